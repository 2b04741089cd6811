"""`python -m playground sync [--pull]`: commit this DATA_DIR to the Hugging Face dataset
PLAYGROUND_HUB_DATASET now, or fetch every writer's runs from it (see hub_sync.py).

Exit codes: 0 done, 1 the Hub failed (nothing local is lost; rerun to retry), 2 not configured.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from playground.cli.common import Subparsers, add_data_dir, settings_from
from playground.core import Playground

if TYPE_CHECKING:
    from playground.store.hub_sync import HubSync


def register(sub: Subparsers, command: str) -> None:
    p = sub.add_parser(
        "sync",
        help="commit the log and votes to the Hub dataset $PLAYGROUND_HUB_DATASET now "
        "(--pull: fetch every writer's runs from it)",
    )
    p.add_argument(
        "--pull",
        action="store_true",
        help="fetch the dataset into DATA_DIR/hub so that History, Analysis and `report` include every writer's runs",
    )
    p.add_argument("--json", action="store_true", help="print exactly one JSON object")
    add_data_dir(p)
    p.set_defaults(func=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    from playground.store.hub_sync import HubSync, HubSyncError, visibility_text

    settings = settings_from(args)
    sync = HubSync(settings, Playground(settings).secrets())  # ConfigError (not configured) -> exit 2 in cli.main
    try:
        out = pull(sync) if args.pull else push(sync)
    except HubSyncError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("nothing local was changed or lost; run the same command again to retry", file=sys.stderr)
        return 1
    out["visibility"] = visibility_text(sync.status.private)
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(out.pop("text"))
    return 0


def push(sync: HubSync) -> dict[str, object]:
    result = sync.push()
    where = f"dataset {sync.config.repo_id} as writer {sync.writer}"
    if result.uploaded:
        text = (
            f"committed {len(result.uploaded)} file(s) to {where}: {', '.join(result.uploaded[:6])}"
            + (f" and {len(result.uploaded) - 6} more" if len(result.uploaded) > 6 else "")
            + f" (commit {(result.commit_oid or '')[:10]})"
        )
    else:
        text = f"nothing new to upload to {where}"
    if result.waiting:
        text += f"\n{len(result.waiting)} file(s) wait for the next sync (at most 500 per commit)"
    return {
        "text": text,
        "repo_id": sync.config.repo_id,
        "writer": sync.writer,
        "commit": result.commit_oid,
        "uploaded": result.uploaded,
        "waiting": result.waiting,
    }


def pull(sync: HubSync) -> dict[str, object]:
    from playground.store.hub_sync import count_runs, count_votes

    sync.ensure_repo()
    snapshot = sync.pull()
    writers = count_runs(snapshot)
    votes = count_votes(snapshot)
    listed = ", ".join(f"{w} {n}" for w, n in writers.items())
    text = (
        f"pulled dataset {sync.config.repo_id} into {snapshot.root}: {sum(writers.values())} runs from "
        f"{len(writers)} writer(s) ({listed or 'none yet'}), {votes} votes. History, Analysis, `report` and "
        f"`bench-story` now include them (each run once)."
    )
    return {
        "text": text,
        "repo_id": sync.config.repo_id,
        "writer": sync.writer,
        "snapshot": str(snapshot.root),
        "writers": writers,
        "runs": sum(writers.values()),
        "votes": votes,
    }
