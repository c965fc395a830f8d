/**
 * Hugging Face hub addresses and settings, spelled as `huggingface_hub` spells them:
 * `HF_ENDPOINT` selects a mirror, `HF_TOKEN` is sent to it, `HF_HUB_OFFLINE=1` forbids every
 * request. Repositories are named `ORG/NAME`, optionally pinned as `ORG/NAME@REVISION`.
 * @module
 */
import { UserError } from "../core/errors.ts";

/** The kinds of hub repository the toolkit reads. */
export type RepoType = "model" | "dataset";

/** One hub repository at one revision (a branch, tag or commit; default `main`). */
export interface RepoRef {
  repo: string;
  type: RepoType;
  revision: string;
}

/** The hub endpoint in effect (env `HF_ENDPOINT`, else https://huggingface.co), no trailing slash. */
export function hubEndpoint(): string {
  return (Deno.env.get("HF_ENDPOINT") || "https://huggingface.co").replace(/\/+$/, "");
}

/**
 * Whether `HF_HUB_OFFLINE` asks for no network at all (the values huggingface_hub accepts).
 *
 * @example Whether HF_HUB_OFFLINE forbids requests
 * ```ts
 * import { hubOffline } from "@kd/vision/hub";
 *
 * console.log(hubOffline());
 * ```
 */
export function hubOffline(): boolean {
  return ["1", "ON", "YES", "TRUE"].includes((Deno.env.get("HF_HUB_OFFLINE") ?? "").toUpperCase());
}

const REPO_RE = /^[\w][\w.-]*\/[\w][\w.-]*$/;

/** Parse `ORG/NAME[@REVISION]`; anything else is a UserError naming `what` (e.g. the spec). */
export function parseRepo(text: string, type: RepoType, what = text): RepoRef {
  const at = text.indexOf("@");
  const repo = at < 0 ? text : text.slice(0, at);
  const revision = at < 0 ? "main" : text.slice(at + 1);
  if (!REPO_RE.test(repo) || repo.includes("..") || !revision || /\.\.|^\/|\s/.test(revision)) {
    throw new UserError(`${what}: expected ORG/NAME or ORG/NAME@REVISION`);
  }
  return { repo, type, revision };
}

/** How a repository is named in messages: `ORG/NAME`, `datasets/ORG/NAME`, with `@REV` if pinned. */
export function repoLabel(ref: RepoRef): string {
  const prefix = ref.type === "dataset" ? "datasets/" : "";
  return `${prefix}${ref.repo}${ref.revision === "main" ? "" : `@${ref.revision}`}`;
}

/** Download URL of `path` in a hub repository at a revision (as `hf_hub_url` builds it). */
export function hubFileUrl(
  repo: string,
  path: string,
  opts: { type?: RepoType; revision?: string } = {},
): string {
  const prefix = opts.type === "dataset" ? "datasets/" : "";
  const rev = encodeURIComponent(opts.revision ?? "main");
  const file = path.split("/").map(encodeURIComponent).join("/");
  return `${hubEndpoint()}/${prefix}${repo}/resolve/${rev}/${file}`;
}

/** The hub API URL that describes a repository (its commit `sha` and file list `siblings`). */
export function hubApiUrl(ref: RepoRef): string {
  const base = `${hubEndpoint()}/api/${ref.type}s/${ref.repo}`;
  return ref.revision === "main" ? base : `${base}/revision/${encodeURIComponent(ref.revision)}`;
}

/** Request headers for `url`, with `Authorization` from env `HF_TOKEN` when it goes to the hub. */
export function hubHeaders(
  url: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const token = Deno.env.get("HF_TOKEN");
  const h: Record<string, string> = { ...extra };
  if (token && isHubUrl(url) && !h.Authorization) h.Authorization = `Bearer ${token}`;
  return h;
}

/**
 * Whether `url` goes to the hub itself: same origin (scheme, host and port) as the endpoint. A
 * prefix test would also pass `https://huggingface.co.example.com/…`, and the token with it.
 */
export function isHubUrl(url: string | URL): boolean {
  try {
    return new URL(url).origin === new URL(hubEndpoint()).origin;
  } catch {
    return false;
  }
}

/** A hub repository resolved to a commit, as recorded in every run's provenance. */
export interface ResolvedRepo {
  type: RepoType;
  repo: string;
  revision: string;
  commit: string;
}

const resolved = new Map<string, ResolvedRepo>();

/** Note that this process used `ref` at `commit` (see {@linkcode resolvedRepos}). */
export function recordResolved(ref: RepoRef, commit: string): void {
  resolved.set(`${ref.type}:${ref.repo}@${ref.revision}`, { ...ref, commit });
}

/** Every hub repository this process has read, with the commit it resolved to (for config.json). */
export function resolvedRepos(): ResolvedRepo[] {
  return [...resolved.values()];
}
