/**
 * The files a training run leaves in its folder, as types: one line of `metrics.jsonl`
 * ({@linkcode EpochRecord}) and `final.json` ({@linkcode FinalSummary}). The trainer writes them;
 * sweeps, reports and notebooks read them. Keys are snake_case, like every JSON file the toolkit
 * writes.
 * @module
 */

/** One line of `metrics.jsonl`. */
export interface EpochRecord {
  epoch: number;
  step: number;
  lr: number;
  train_loss: number;
  train_ce: number;
  train_kd: number;
  val_loss: number;
  accuracy: number;
  macro_f1: number;
  ece: number;
  agreement: number | null;
  kl_to_teacher: number | null;
  epoch_time_s: number;
  img_per_s: number;
}

/** The content of `final.json`. */
export interface FinalSummary {
  best_epoch: number;
  select_by: string;
  epochs_run: number;
  stopped_early: boolean;
  /** Validation metrics of the best model (recomputed after reloading it). */
  validation: {
    n: number;
    accuracy: number;
    macro_f1: number;
    ece: number;
    precision: number[];
    recall: number[];
    confusion: number[][];
    agreement: number | null;
    kl_to_teacher: number | null;
  };
  teacher_val_accuracy: number | null;
  train_time_s: number;
  img_per_s: number;
  class_names: string[];
}

/** `<split>_eval.json` beside a run, written by `deno task eval --model RUN_DIR --split NAME`. */
export interface EvalRecord {
  split: string;
  accuracy: number;
  macro_f1: number;
  n: number;
  confusion?: number[][];
  evaluated_at?: string;
}
