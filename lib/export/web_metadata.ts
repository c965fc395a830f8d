/**
 * The metadata a tfjs export carries in `model.json` (`userDefinedMetadata`), in a module without
 * imports: both the exporter and the browser page (`demo/app.ts`) read this one definition.
 * @module
 */

/** What `userDefinedMetadata` of an exported `model.json` holds (snake_case, like our JSON). */
export interface WebModelMetadata {
  /** Class names in logit order. */
  class_names: string[];
  /** How to prepare an image: PIL-bilinear resize to size×size, then (x/255 - mean)/std. */
  preprocessing: {
    size: number;
    resample: "pil_bilinear";
    resample_pil_code: number;
    rescale_factor: number;
    mean: [number, number, number];
    std: [number, number, number];
    layout: "NHWC";
  };
  /** The model the export was made from (registry spec or run folder). */
  source: string;
  /** `logits`: the model outputs raw logits; apply softmax for probabilities. */
  output: "logits";
  exported_at: string;
}
