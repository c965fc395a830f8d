/**
 * The report's figures as plain plotly specs (`{data, layout}`), built by pure functions from
 * sweep results and run records, so the HTML report, the PNG export and the notebooks draw
 * exactly the same plots. Accuracies are shown in percent; every number is validation.
 * @module
 */
import type { EpochRecord } from "../core/run_files.ts";
import type { ResultRow, Stat, SweepResults } from "../sweep/types.ts";

/**
 * One plotly trace (a plain JSON object).
 *
 * @example A bar trace added to a figure of the report
 * ```ts
 * import { classBalanceFigure, type Trace } from "@kd/vision/report";
 *
 * const classNames = ["a", "b", "c"];
 * const fig = classBalanceFigure([{ name: "train", classNames, counts: [8, 8, 8] }]);
 * const extra: Trace = { type: "bar", name: "validation", x: classNames, y: [5, 5, 5] };
 * fig.data.push(extra);
 * console.log(fig.data.length);
 * ```
 */
export type Trace = Record<string, unknown>;

/**
 * A plotly figure: what `Plotly.newPlot(div, data, layout)` takes.
 *
 * @example A confusion matrix as a figure, saved as JSON for any plotly front end
 * ```ts
 * import { confusionFigure, type Figure } from "@kd/vision/report";
 *
 * const fig: Figure = confusionFigure([[5, 0], [1, 4]], ["healthy", "sick"], "validation");
 * await Deno.writeTextFile(`${await Deno.makeTempDir()}/confusion.json`, JSON.stringify(fig));
 * console.log(fig.layout.title);
 * ```
 */
export interface Figure {
  /** The traces, drawn in order. */
  data: Trace[];
  /** Plotly's layout: titles, axes, size, legend. */
  layout: Record<string, unknown>;
}

/**
 * A run's learning curve input: its per-epoch records.
 *
 * @example Learning curves of two hand-made runs
 * ```ts
 * import { type CurveRun, learningCurvesFigure } from "@kd/vision/report";
 * import type { EpochRecord } from "@kd/vision/train";
 *
 * const epoch = (epoch: number, accuracy: number, val_loss: number): EpochRecord => ({
 *   epoch, step: 10 * epoch, lr: 1e-3, train_loss: val_loss, train_ce: val_loss, train_kd: 0,
 *   val_loss, accuracy, macro_f1: accuracy, ece: 0.05, agreement: null, kl_to_teacher: null,
 *   epoch_time_s: 1, img_per_s: 100,
 * });
 * const runs: CurveRun[] = [
 *   { id: "scratch-s0", kind: "scratch", metrics: [epoch(1, 0.6, 0.9), epoch(2, 0.7, 0.7)] },
 *   { id: "kd-vit-T5-l0.5-s0", kind: "distill", metrics: [epoch(1, 0.65, 0.8), epoch(2, 0.8, 0.5)] },
 * ];
 * console.log(learningCurvesFigure(runs).data.length);
 * ```
 */
export interface CurveRun {
  /** Run id, e.g. `kd-vit-T5-l0.5-s0`. */
  id: string;
  /** `scratch` runs are drawn grey, distilled ones in colour. */
  kind: "scratch" | "distill";
  /** Recipe arm: with several, runs are coloured by arm (scratch dashed). */
  recipe?: string;
  /** Teacher name (distinguishes teachers within an arm by line style). */
  teacher?: string | null;
  /** Its per-epoch records, in epoch order. */
  metrics: EpochRecord[];
  /** Legend entry shared by runs of one configuration (default: the id without `-s<seed>`). */
  group?: string;
}

/** Colours for teachers / runs (plotly's default cycle). */
export const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#bcbd22",
  "#17becf",
];
const SCRATCH_COLOR = "#555555";

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** Upper and lower error-bar lengths of a stat's 95% CI, scaled (0 where the CI is undefined). */
export function ciErrors(s: Stat, scale = 100): { plus: number; minus: number } {
  // JSON turns the NaN CI of a single seed into null.
  const [lo, hi] = s.ci95 ?? [null, null];
  return {
    plus: finite(hi) ? (hi - s.mean) * scale : 0,
    minus: finite(lo) ? (s.mean - lo) * scale : 0,
  };
}

function errorY(stats: Stat[], scale = 100): Trace {
  const e = stats.map((s) => ciErrors(s, scale));
  return {
    type: "data",
    symmetric: false,
    array: e.map((x) => x.plus),
    arrayminus: e.map((x) => x.minus),
    visible: e.some((x) => x.plus > 0 || x.minus > 0),
  };
}

function title(text: string): { text: string } {
  return { text };
}

/** Label of a distilled configuration, e.g. `mnv2-probe T=5 λ=0.5`. */
export function rowLabel(r: Pick<ResultRow, "teacher" | "temperature" | "lambda">): string {
  if (r.teacher === "scratch" || r.temperature === null) return r.teacher;
  return `${r.teacher} T=${r.temperature} λ=${r.lambda}`;
}

function teacherColors(rows: ResultRow[]): Map<string, string> {
  const names = [...new Set(rows.filter((r) => r.kind === "distill").map((r) => r.teacher))];
  return new Map(names.map((n, i) => [n, PALETTE[i % PALETTE.length]]));
}

/**
 * The recipe arms of a sweep in table order (empty when it has one recipe): with arms, every
 * figure colours by arm, because Δ is only meaningful against the scratch of the same arm.
 */
export function recipeArms(rows: { recipe?: string }[]): string[] {
  return [...new Set(rows.flatMap((r) => r.recipe ? [r.recipe] : []))];
}

function armColors(arms: string[]): Map<string, string> {
  return new Map(arms.map((a, i) => [a, PALETTE[i % PALETTE.length]]));
}

const DASHES = ["solid", "dot", "dash", "longdash", "dashdot"];

/**
 * Validation accuracy against temperature, one line per (teacher, λ) with 95% CI error bars,
 * over the scratch baseline drawn as a shaded band (mean ± 95% CI). With recipe arms, one line
 * per (arm, teacher, λ) coloured by arm (teachers by line style) and each arm's scratch mean as
 * a dashed line in its colour; the teachers' own accuracy is a thin dotted line either way.
 */
export function accuracyVsTemperatureFigure(results: SweepResults): Figure {
  const distill = results.rows.filter((r) => r.kind === "distill" && r.temperature !== null);
  const arms = recipeArms(results.rows);
  const colors = arms.length ? armColors(arms) : teacherColors(results.rows);
  const teacherNames = [...new Set(distill.map((r) => r.teacher))];
  const groups = new Map<string, ResultRow[]>();
  for (const r of distill) {
    const key = `${r.recipe ?? ""}\u0000${r.teacher}\u0000${r.lambda}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  const lambdas = [...new Set(distill.map((r) => r.lambda))].sort((a, b) => a! - b!);
  const data: Trace[] = [];
  for (const rows of groups.values()) {
    rows.sort((a, b) => a.temperature! - b.temperature!);
    const { teacher, lambda, recipe } = rows[0];
    const name = recipe ? `${recipe}: ${teacher} λ=${lambda}` : `${teacher} λ=${lambda}`;
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name,
      ...(recipe ? { legendgroup: recipe } : {}),
      x: rows.map((r) => r.temperature),
      y: rows.map((r) => r.accuracy.mean * 100),
      error_y: errorY(rows.map((r) => r.accuracy)),
      line: {
        color: colors.get(recipe ?? teacher),
        dash: recipe
          ? DASHES[teacherNames.indexOf(teacher) % DASHES.length]
          : DASHES[lambdas.indexOf(lambda) % DASHES.length],
      },
      hovertemplate: `${name} T=%{x}: %{y:.2f}%<extra></extra>`,
    });
  }
  const temps = distill.map((r) => r.temperature!);
  const x0 = temps.length ? Math.min(...temps) : 1;
  const x1 = temps.length ? Math.max(...temps) : 10;
  const logX = x0 > 0 && x1 / x0 >= 4;
  const scratchRows = results.rows.filter((r) => r.kind === "scratch");
  if (arms.length) {
    for (const s of scratchRows) {
      const m = s.accuracy.mean * 100;
      data.unshift({
        type: "scatter",
        mode: "lines",
        name: `${s.recipe}: scratch (n=${s.accuracy.n})`,
        legendgroup: s.recipe,
        x: [x0, x1],
        y: [m, m],
        line: { color: colors.get(s.recipe!), dash: "dash", width: 1.5 },
        hovertemplate: `${s.recipe} scratch: ${m.toFixed(2)}%<extra></extra>`,
      });
    }
  }
  const scratch = arms.length ? undefined : scratchRows[0];
  if (scratch) {
    const m = scratch.accuracy.mean * 100;
    const e = ciErrors(scratch.accuracy);
    if (e.plus > 0 || e.minus > 0) {
      data.unshift({
        type: "scatter",
        mode: "lines",
        name: "scratch 95% CI",
        x: [x0, x1, x1, x0, x0],
        y: [m - e.minus, m - e.minus, m + e.plus, m + e.plus, m - e.minus],
        fill: "toself",
        fillcolor: "rgba(85,85,85,0.18)",
        line: { width: 0 },
        hoverinfo: "skip",
      });
    }
    data.unshift({
      type: "scatter",
      mode: "lines",
      name: `scratch mean (n=${scratch.accuracy.n})`,
      x: [x0, x1],
      y: [m, m],
      line: { color: SCRATCH_COLOR, dash: "dash" },
      hovertemplate: `scratch: ${m.toFixed(2)}%<extra></extra>`,
    });
  }
  const teachers = new Map<string, number>();
  for (const r of distill) {
    if (finite(r.teacherValAccuracy)) teachers.set(r.teacher, r.teacherValAccuracy * 100);
  }
  for (const [name, acc] of teachers) {
    data.push({
      type: "scatter",
      mode: "lines",
      name: `teacher ${name}`,
      x: [x0, x1],
      y: [acc, acc],
      line: {
        color: arms.length ? SCRATCH_COLOR : colors.get(name),
        dash: arms.length ? DASHES[teacherNames.indexOf(name) % DASHES.length] : "dot",
        width: 1,
      },
      hovertemplate: `teacher ${name}: ${acc.toFixed(2)}%<extra></extra>`,
    });
  }
  return {
    data,
    layout: {
      title: title("Validation accuracy vs temperature (error bars: 95% CI over seeds)"),
      xaxis: {
        title: title("temperature T"),
        type: logX ? "log" : "linear",
        tickvals: [...new Set(temps)].sort((a, b) => a - b),
      },
      yaxis: { title: title("validation accuracy (%)") },
      legend: { orientation: "h", y: -0.25 },
      height: arms.length ? 560 : 480,
      margin: { t: 60, b: arms.length ? 200 : 120 },
    },
  };
}

/**
 * Recipe arms side by side: per arm, scratch and each teacher's distilled student (validation
 * accuracy with 95% CI), and each teacher's own accuracy as a horizontal line, so the gap to the
 * teacher and the gain over the arm's own scratch read off one figure. From the CONFIRM stage
 * (fresh seeds) when it has results, else from the screen rows (each arm's best configuration
 * per teacher: optimistic, picked on these numbers).
 */
export function armsFigure(results: SweepResults): Figure {
  const arms = recipeArms(results.rows);
  type Bar = { arm: string; who: string; acc: Stat; label: string };
  const bars: Bar[] = [];
  const confirm = (results.confirm ?? []).filter((c) => c.recipe);
  const fromConfirm = confirm.length > 0;
  if (fromConfirm) {
    const scratchDone = new Set<string>();
    for (const c of confirm) {
      if (!scratchDone.has(c.recipe!)) {
        scratchDone.add(c.recipe!);
        bars.push({
          arm: c.recipe!,
          who: "scratch",
          acc: c.scratch.validation.accuracy,
          label: "",
        });
      }
      bars.push({
        arm: c.recipe!,
        who: c.teacher,
        acc: c.distilled.validation.accuracy,
        label: `T=${c.temperature} λ=${c.lambda}`,
      });
    }
  } else {
    for (const arm of arms) {
      const rows = results.rows.filter((r) => r.recipe === arm);
      const s = rows.find((r) => r.kind === "scratch");
      if (s) bars.push({ arm, who: "scratch", acc: s.accuracy, label: "" });
      const best = new Map<string, ResultRow>();
      for (const r of rows.filter((r) => r.kind === "distill")) {
        const cur = best.get(r.teacher);
        if (!cur || r.accuracy.mean > cur.accuracy.mean) best.set(r.teacher, r);
      }
      for (const [t, r] of best) {
        bars.push({ arm, who: t, acc: r.accuracy, label: `T=${r.temperature} λ=${r.lambda}` });
      }
    }
  }
  const colors = teacherColors(results.rows);
  const whos = [...new Set(bars.map((b) => b.who))];
  const data: Trace[] = whos.map((who) => {
    const bs = bars.filter((b) => b.who === who);
    return {
      type: "bar",
      name: who === "scratch" ? "scratch (same arm)" : `distilled from ${who}`,
      x: bs.map((b) => b.arm),
      y: bs.map((b) => b.acc.mean * 100),
      error_y: errorY(bs.map((b) => b.acc)),
      text: bs.map((b) => b.label),
      marker: { color: who === "scratch" ? SCRATCH_COLOR : colors.get(who) },
      hovertemplate: `%{x} ${who} %{text}: %{y:.1f}%<extra></extra>`,
    };
  });
  const teachers = new Map<string, number>();
  for (const r of results.rows) {
    if (r.kind === "distill" && finite(r.teacherValAccuracy)) {
      teachers.set(r.teacher, r.teacherValAccuracy * 100);
    }
  }
  const shapes = [...teachers].map(([name, acc]) => ({
    type: "line",
    xref: "paper",
    x0: 0,
    x1: 1,
    y0: acc,
    y1: acc,
    line: { color: colors.get(name), dash: "dot", width: 1.5 },
  }));
  for (const [name, acc] of teachers) {
    // An invisible trace gives each teacher line a legend entry.
    data.push({
      type: "scatter",
      mode: "lines",
      name: `teacher ${name} itself (${acc.toFixed(1)}%)`,
      x: [arms[0], arms[arms.length - 1]],
      y: [acc, acc],
      line: { color: colors.get(name), dash: "dot", width: 1.5 },
      hovertemplate: `teacher ${name}: ${acc.toFixed(2)}%<extra></extra>`,
    });
  }
  return {
    data,
    layout: {
      title: title(
        `Recipe arms: scratch, distilled and the teacher itself (${
          fromConfirm ? "CONFIRM, fresh seeds" : "screen, best per arm"
        }; error bars: 95% CI)`,
      ),
      xaxis: { title: title("recipe arm"), categoryorder: "array", categoryarray: arms },
      yaxis: { title: title("validation accuracy (%)") },
      barmode: "group",
      shapes,
      legend: { orientation: "h", y: -0.22 },
      height: 500,
      margin: { t: 60, b: 150 },
    },
  };
}

/**
 * Δ validation accuracy vs scratch per distilled configuration, paired by seed, with 95% CI;
 * with recipe arms, one bar colour per arm (each against its own arm's scratch).
 */
export function deltaVsScratchFigure(results: SweepResults): Figure {
  const rows = results.rows.filter((r) => r.kind === "distill" && r.deltaAccuracy);
  const arms = recipeArms(results.rows);
  const colors = arms.length ? armColors(arms) : teacherColors(results.rows);
  const byTrace = new Map<string, ResultRow[]>();
  for (const r of rows) {
    const key = r.recipe ?? r.teacher;
    byTrace.set(key, [...(byTrace.get(key) ?? []), r]);
  }
  // With arms, bars of one teacher line up across arms; T and λ (which differ by arm) hover.
  const perArm = (r: ResultRow) =>
    rows.filter((x) => x.recipe === r.recipe && x.teacher === r.teacher).length;
  const x = (r: ResultRow) => arms.length && perArm(r) === 1 ? r.teacher : rowLabel(r);
  const data: Trace[] = [...byTrace].map(([key, rs]) => ({
    type: "bar",
    name: key,
    x: rs.map(x),
    y: rs.map((r) => r.deltaAccuracy!.mean * 100),
    error_y: errorY(rs.map((r) => r.deltaAccuracy!)),
    text: rs.map((r) => arms.length ? `${key}: ${rowLabel(r)}` : rowLabel(r)),
    textposition: "none",
    marker: { color: colors.get(key) },
    hovertemplate: "%{text}: %{y:+.2f} pp<extra></extra>",
  }));
  return {
    data,
    layout: {
      title: title("Δ validation accuracy vs scratch (paired by seed; error bars: 95% CI)"),
      xaxis: { title: title(arms.length ? "teacher" : "configuration"), automargin: true },
      yaxis: DELTA_AXIS,
      shapes: [ZERO_LINE],
      barmode: "group",
      ...(arms.length ? { legend: { title: title("recipe arm") } } : {}),
      height: 460,
      margin: { t: 60, b: 140 },
    },
  };
}

/**
 * The CONFIRM stage at a glance: per teacher (and split), each seed's paired Δ (distilled −
 * scratch) as a dot and the mean with its 95% interval as a diamond with error bars, against 0.
 */
export function confirmDeltaFigure(results: SweepResults): Figure {
  const arms = recipeArms(results.rows);
  const colors = arms.length ? armColors(arms) : teacherColors(results.rows);
  const data: Trace[] = [];
  for (const c of results.confirm ?? []) {
    const color = colors.get(c.recipe ?? c.teacher);
    const who = c.recipe ? `${c.recipe}: ${c.teacher}` : c.teacher;
    const label = (split: string) => `${who} T=${c.temperature} (${split})`;
    const perSeed = (split: "validation" | "test") =>
      c.perSeed.flatMap((s) =>
        s.distilled[split] !== null && s.scratch[split] !== null
          ? [(s.distilled[split]! - s.scratch[split]!) * 100]
          : []
      );
    for (const split of ["validation", "test"] as const) {
      const d = split === "validation" ? c.delta.validation.accuracy : c.delta.test?.accuracy;
      if (!d) continue;
      const ys = perSeed(split);
      data.push({
        type: "scatter",
        mode: "markers",
        name: `${label(split)}: seeds`,
        x: ys.map(() => label(split)),
        y: ys,
        marker: { color, size: 7, opacity: 0.45 },
        hovertemplate: "%{y:+.1f} pp<extra>one seed</extra>",
        showlegend: false,
      });
      data.push({
        type: "scatter",
        mode: "markers",
        name: label(split),
        x: [label(split)],
        y: [d.mean * 100],
        error_y: errorY([d]),
        marker: { color, size: 13, symbol: "diamond" },
        hovertemplate: `mean %{y:+.1f} pp over ${d.n} seeds<extra></extra>`,
      });
    }
  }
  return {
    data,
    layout: {
      title: title("CONFIRM: Δ accuracy vs scratch on fresh seeds (dots: seeds; ◆: mean, 95% CI)"),
      xaxis: {
        title: title(`${arms.length ? "arm: " : ""}teacher (its screen pick) and split`),
        automargin: true,
      },
      yaxis: DELTA_AXIS,
      shapes: [ZERO_LINE],
      height: 460,
      margin: { t: 60, b: 120 },
    },
  };
}

/** The y axis of the Δ-vs-scratch figures. */
const DELTA_AXIS = { title: title("Δ accuracy (percentage points)"), zeroline: true };

/** A full-width line at Δ = 0, so "no difference" is visible on every Δ figure. */
const ZERO_LINE = {
  type: "line",
  xref: "paper",
  x0: 0,
  x1: 1,
  y0: 0,
  y1: 0,
  line: { color: "#000", width: 1 },
};

/** Configuration label of a run for grouping curves: `scratch` or `teacher T=.. λ=..`. */
export function curveGroup(run: CurveRun): string {
  if (run.group) return run.group;
  if (run.kind === "scratch") return run.recipe ? `scratch-${run.recipe}` : "scratch";
  return run.id.replace(/-s\d+$/, "");
}

/**
 * Whether the learning curves take their colours from recipe arms: with several arms; with one,
 * scratch is grey as without arms.
 */
export function curvesColouredByArm(runs: { recipe?: string }[]): boolean {
  return recipeArms(runs).length > 1;
}

/** Runs of one group with at least this many seeds are summarised by their mean curve. */
const MEAN_FROM = 2;

/** Per epoch, the mean of `value` over the runs that reached it. */
function meanCurve(runs: CurveRun[], value: (m: EpochRecord) => number): [number[], number[]] {
  const sums = new Map<number, [number, number]>();
  for (const r of runs) {
    for (const m of r.metrics) {
      const s = sums.get(m.epoch) ?? [0, 0];
      sums.set(m.epoch, [s[0] + value(m), s[1] + 1]);
    }
  }
  const epochs = [...sums.keys()].sort((a, b) => a - b);
  return [epochs, epochs.map((e) => sums.get(e)![0] / sums.get(e)![1])];
}

/**
 * Validation accuracy and train loss per epoch. Runs of the same configuration (seeds) share a
 * colour and a legend entry: each seed is a thin line and, from two seeds on, their mean a bold
 * one, so long schedules over many seeds stay readable. Scratch is dashed: grey, or with several
 * recipe arms in its arm's colour (an arm's teachers then differ by line style).
 *
 * @example Validation accuracy and training loss per epoch of runs
 * ```ts
 * import { learningCurvesFigure, loadSweep, writeSyntheticSweep } from "@kd/vision/report";
 *
 * const dir = await Deno.makeTempDir();
 * await writeSyntheticSweep(dir);
 * const { runs } = await loadSweep(dir);
 * const fig = learningCurvesFigure(runs.slice(0, 2), "two runs");
 * console.log(fig.data.length);
 * ```
 */
export function learningCurvesFigure(runs: CurveRun[], heading?: string): Figure {
  const data: Trace[] = [];
  const groups = new Map<string, CurveRun[]>();
  let lastEpoch = 0;
  for (const run of runs) {
    if (!run.metrics.length) continue;
    const group = curveGroup(run);
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group)!.push(run);
    lastEpoch = Math.max(lastEpoch, run.metrics[run.metrics.length - 1].epoch);
  }
  const arms = armColors(curvesColouredByArm(runs) ? recipeArms(runs) : []);
  const teachers = [...new Set(runs.flatMap((r) => r.teacher ? [r.teacher] : []))];
  const panels = [
    { axis: "", value: (m: EpochRecord) => m.accuracy * 100, label: "%{y:.1f}%" },
    { axis: "2", value: (m: EpochRecord) => m.train_loss, label: "loss %{y:.4f}" },
  ];
  let distill = 0;
  for (const [group, members] of groups) {
    const run = members[0];
    const color = run.recipe && arms.has(run.recipe)
      ? arms.get(run.recipe)!
      : run.kind === "scratch"
      ? SCRATCH_COLOR
      : PALETTE[distill++ % PALETTE.length];
    const dash = run.kind === "scratch"
      ? "dash"
      : arms.size && run.teacher
      ? [DASHES[0], ...DASHES.slice(2)][teachers.indexOf(run.teacher) % (DASHES.length - 1)]
      : "solid";
    const summarised = members.length >= MEAN_FROM;
    for (const { axis, value, label } of panels) {
      for (const [k, r] of members.entries()) {
        const epochs = r.metrics.map((m) => m.epoch);
        data.push({
          type: "scatter",
          mode: summarised || epochs.length > 30 ? "lines" : "lines+markers",
          name: group,
          legendgroup: group,
          showlegend: !summarised && !axis && k === 0,
          x: epochs,
          y: r.metrics.map(value),
          line: { color, dash, width: summarised ? 1 : 2 },
          opacity: summarised ? 0.35 : 1,
          marker: { size: 5 },
          xaxis: `x${axis}`,
          yaxis: `y${axis}`,
          hovertemplate: `${r.id} epoch %{x}: ${label}<extra></extra>`,
        });
      }
      if (!summarised) continue;
      const [x, y] = meanCurve(members, value);
      data.push({
        type: "scatter",
        mode: "lines",
        name: `${group} (mean of ${members.length})`,
        legendgroup: group,
        showlegend: !axis,
        x,
        y,
        line: { color, dash, width: 3 },
        xaxis: `x${axis}`,
        yaxis: `y${axis}`,
        hovertemplate: `${group}, mean of ${members.length}, epoch %{x}: ${label}<extra></extra>`,
      });
    }
  }
  // One tick per epoch only where they fit.
  const epochAxis = { title: title("epoch"), ...(lastEpoch <= 15 ? { dtick: 1 } : {}) };
  return {
    data,
    layout: {
      title: title(heading ?? "Learning curves (validation accuracy, training loss)"),
      grid: { rows: 1, columns: 2, pattern: "independent", xgap: 0.15 },
      xaxis: epochAxis,
      yaxis: { title: title("validation accuracy (%)") },
      xaxis2: epochAxis,
      yaxis2: { title: title("training loss") },
      legend: { orientation: "v", x: 1.02, y: 1 },
      height: 460,
      margin: { t: 60, b: 60, r: 220 },
    },
  };
}

/**
 * Heatmap of a confusion matrix (`[true][predicted]` counts) with the counts written in.
 *
 * @example A confusion-matrix heatmap
 * ```ts
 * import { confusionFigure } from "@kd/vision/report";
 *
 * const fig = confusionFigure([[5, 1], [0, 6]], ["healthy", "bean_rust"], "validation");
 * console.log(fig.layout);
 * ```
 */
export function confusionFigure(
  confusion: number[][],
  classNames: string[],
  heading: string,
): Figure {
  const n = confusion.reduce((a, row) => a + row.reduce((b, c) => b + c, 0), 0);
  return {
    data: [{
      type: "heatmap",
      z: confusion,
      x: classNames,
      y: classNames,
      // Light for few, dark for many (plotly's named "Blues" runs the other way).
      colorscale: [[0, "#f7fbff"], [0.5, "#6baed6"], [1, "#08306b"]],
      texttemplate: "%{z}",
      hovertemplate: "true %{y}, predicted %{x}: %{z}<extra></extra>",
      showscale: false,
    }],
    layout: {
      title: title(`${heading} (n=${n})`),
      xaxis: { title: title("predicted"), side: "bottom" },
      yaxis: { title: title("true"), autorange: "reversed" },
      height: 400,
      width: 460,
      margin: { t: 60, l: 130, b: 110 },
    },
  };
}

/**
 * Images per class of each split, as grouped bars.
 *
 * @example Images per class, one bar group per split
 * ```ts
 * import { classBalanceFigure } from "@kd/vision/report";
 *
 * const classNames = ["angular_leaf_spot", "bean_rust", "healthy"];
 * const fig = classBalanceFigure([{ name: "train", classNames, counts: [8, 8, 8] }]);
 * console.log(fig.data.length); // 1
 * ```
 */
export function classBalanceFigure(
  splits: { name: string; classNames: string[]; counts: number[] }[],
): Figure {
  return {
    data: splits.map((s, i) => ({
      type: "bar",
      name: s.name,
      x: s.classNames,
      y: s.counts,
      text: s.counts.map(String),
      textposition: "auto",
      marker: { color: PALETTE[i % PALETTE.length] },
    })),
    layout: {
      title: title("Images per class"),
      barmode: "group",
      xaxis: { title: title("class") },
      yaxis: { title: title("images") },
      height: 400,
    },
  };
}
