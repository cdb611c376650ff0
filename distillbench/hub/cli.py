"""`distillbench hub`: publish a built suite and the dev evidence bundle to the Hugging Face Hub, or fetch them.
Added to the `distillbench` parser by `add_commands` (one hook in distillbench.cli).

    distillbench hub push models   --suite S --models-repo ORG/NAME   [--dry-run | --to-folder DIR | --online] [--private]
    distillbench hub push evidence --suite S --evidence-repo ORG/NAME [--bundle DIR] [--dry-run | --to-folder DIR | --online]
    distillbench hub fetch models   --suite S --models-repo ORG/NAME   (--online | --snapshot DIR) [--replace]
    distillbench hub fetch evidence --suite S --evidence-repo ORG/NAME [--bundle DIR] (--online | --snapshot DIR) [--replace]

See docs/hub.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from distillbench.errors import DistillBenchError
from distillbench.hub.layout import TARGETS, resolve_repo_id


_NEVER = ("Never pushed: the teacher API cache (cache/), verdicts, results, the evidence store, and any suite with "
          "hidden test pairs (split: test) or whose name ends in '-test'.")
_ONLINE = ("distillbench keeps the Hub offline (HF_HUB_OFFLINE=1) unless told otherwise: a real transfer needs --online "
           "(or HF_HUB_OFFLINE=0 in the environment).")


def _bundle(args) -> Path:
    from distillbench.evidence.bundle import bundles_dir  # where `evidence export` writes and `evaluate` reads

    return Path(args.bundle) if args.bundle else bundles_dir() / args.suite


def _token(args) -> str | None:
    # None lets huggingface_hub fall back to the token saved by `hf auth login`.
    return args.token or os.environ.get("HF_TOKEN") or None


def _quiet(args) -> None:
    if args.no_progress:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()


def cmd_push(args) -> None:
    from distillbench.hub.online import allow_hub_access, hub_errors, one_line
    from distillbench.hub.push import plan_evidence, plan_models, push, write_plan

    target = TARGETS[args.hub_what]
    repo_id = resolve_repo_id(target, args.repo)
    local_only = args.dry_run or args.to_folder
    if not local_only:
        allow_hub_access(args.online, f"hub push {target.kind}")  # before hashing anything: fail fast
    if target.kind == "models":
        plan = plan_models(args.ws, args.suite, repo_id, args.revision)
    else:
        plan = plan_evidence(_bundle(args), args.suite, repo_id, args.revision)
    if local_only:
        print(f"hub: would push {plan.describe()}")
        if args.to_folder:
            write_plan(plan, Path(args.to_folder))
            print(f"hub: wrote those files to {Path(args.to_folder).resolve()}/ (laid out as in the repo)")
        print("hub: nothing was sent")
        return
    from huggingface_hub import HfApi

    _quiet(args)
    try:
        info = push(plan, HfApi(token=_token(args)), private=args.private)
    except hub_errors() as exc:
        raise DistillBenchError(f"push to {target.repo_type} repo {repo_id} failed: {one_line(exc)}") from exc
    where = getattr(info, "commit_url", None) or f"{target.repo_type} repo {repo_id}"
    print(f"hub: pushed {len(plan.files)} files ({plan.total_bytes:,} bytes) of suite {args.suite} -> {where}")


def cmd_fetch(args) -> None:
    from distillbench.hub.fetch import fetch
    from distillbench.hub.online import allow_hub_access

    target = TARGETS[args.hub_what]
    dest = args.ws.suite_dir(args.suite) if target.kind == "models" else _bundle(args)
    if args.snapshot:
        report = fetch(target, args.suite, dest, replace=args.replace, snapshot=Path(args.snapshot))
        source = args.snapshot
    else:
        repo_id = resolve_repo_id(target, args.repo)
        allow_hub_access(args.online, f"hub fetch {target.kind}")
        _quiet(args)
        report = fetch(target, args.suite, dest, replace=args.replace, repo_id=repo_id, revision=args.revision,
                       token=_token(args))
        source = repo_id
    print(f"hub: verified and installed {report.files} files ({report.bytes:,} bytes, pushed by distillbench "
          f"{report.distillbench_version}) from {source}{' (replaced the old copy)' if report.replaced else ''} "
          f"-> {report.dest}")
    if target.kind == "models":
        home = f" --home {args.ws.home}" if args.home else ""
        print(f"hub: next: distillbench probe --suite {args.suite}{home}")


def add_commands(sub, common: argparse.ArgumentParser, suite: argparse.ArgumentParser) -> None:
    """Adds `hub push {models,evidence}` and `hub fetch {models,evidence}` to the `distillbench` parser."""
    net = argparse.ArgumentParser(add_help=False)
    net.add_argument("--revision", help="branch (created on push if missing), tag or commit (default: main)")
    net.add_argument("--token", help="Hugging Face access token (default: $HF_TOKEN, else the login saved by "
                                     "`hf auth login`; fetching a public repo needs none)")
    net.add_argument("--online", action="store_true",
                     help="allow this command to reach the Hub: clears HF_HUB_OFFLINE, which distillbench sets to 1 "
                          "by default, for this process only")

    hub = sub.add_parser("hub", help="publish a built suite and the dev evidence bundle to the Hugging Face Hub, or "
                                     "fetch them instead of building",
                         description="Publish a built synthetic suite (model repo) and the published dev evidence "
                                     "bundle (dataset repo) to the Hugging Face Hub, or fetch and verify them. "
                                     f"{_ONLINE} See docs/hub.md.")
    cmds = hub.add_subparsers(dest="hub_command", required=True)
    push = cmds.add_parser("push", help="send a built suite or the evidence bundle to the Hub as one commit",
                           description=f"Send files to the Hub as one commit, with a README card and a sha256 index "
                                       f"(distillbench_push.json). {_NEVER} {_ONLINE}")
    fetch = cmds.add_parser("fetch", help="download, verify and install a pushed suite or evidence bundle",
                            description="Download a pushed suite or evidence bundle, check every file against its "
                                        "push index (and a suite against its manifest), then install it with one "
                                        f"rename: a failed or tampered fetch changes nothing. {_ONLINE}")
    pushes = push.add_subparsers(dest="hub_what", required=True)
    fetches = fetch.add_subparsers(dest="hub_what", required=True)

    for kind, target in TARGETS.items():
        repo_help = (f"{target.repo_type} repo ORG/NAME holding the {kind} (default: ${target.env_var})")
        if kind == "models":
            short_push, short_fetch = "push a built synthetic suite to a model repo", "fetch a pushed suite into the workspace"
            what = ("a built synthetic suite from <home>/suites/<suite>/: manifest.json, pool.jsonl, tokenizer(s) and "
                    "every model directory, checked against the manifest first; in the repo under suites/<suite>/")
            installs = "into <home>/suites/<suite>/, after which `distillbench probe --suite <suite>` works with no build"
        else:
            short_push, short_fetch = "push the evidence bundle to a dataset repo", "fetch a pushed evidence bundle"
            what = ("every file of the evidence bundle folder (default leaderboard/evidence/<suite>/; hidden files "
                    "skipped); in the repo under evidence/<suite>/")
            installs = "into the bundle folder (default leaderboard/evidence/<suite>/ of this checkout, or $DISTILLBENCH_PUBLISHED/<suite>)"

        p = pushes.add_parser(kind, parents=[common, suite, net], help=short_push,
                              description=f"Push {what}. {_NEVER} {_ONLINE}")
        p.add_argument(target.option, dest="repo", metavar="ORG/NAME", help=repo_help)
        if kind == "evidence":
            p.add_argument("--bundle", help="evidence bundle folder to push (default: leaderboard/evidence/<suite>)")
        p.add_argument("--private", action="store_true", help="create the repo private (an existing repo keeps its "
                                                              "visibility)")
        p.add_argument("--dry-run", action="store_true", help="print every file that would be sent (path in the "
                                                              "repo, size, sha256) and stop before any network call")
        p.add_argument("--to-folder", metavar="DIR", help="write the files that would be sent into DIR, laid out as "
                                                          "in the repo, and send nothing (installable with "
                                                          "`hub fetch --snapshot DIR`)")
        p.set_defaults(func=cmd_push)

        p = fetches.add_parser(kind, parents=[common, suite, net], help=short_fetch,
                               description=f"Download the {kind} of a suite, verify every file, and install it "
                                           f"{installs}. {_ONLINE}")
        p.add_argument(target.option, dest="repo", metavar="ORG/NAME", help=repo_help)
        if kind == "evidence":
            p.add_argument("--bundle", help="where to install the bundle (default: leaderboard/evidence/<suite>)")
        p.add_argument("--replace", action="store_true", help="replace an existing copy (the whole folder, "
                                                              "including anything added since)")
        p.add_argument("--snapshot", metavar="DIR", help="install from DIR, a folder laid out like the repo (e.g. "
                                                         "from `hub push --to-folder` or `hf download`), with no "
                                                         "network")
        p.set_defaults(func=cmd_fetch)
