"""Inspect, export and check a score store (``archscore store info|export|verify PATH``).

- ``info PATH``: who wrote it, its size, and per settings entry the number of
  architectures, scores and failures and the proxies stored.
- ``export PATH --out FILE.csv`` (or ``.parquet``, needs pyarrow): one row per
  architecture (column ``arch``, the architecture string), one column per
  proxy (NaN for a recorded failure), for the store's settings; a store holding
  several settings needs ``--settings ID`` (or ``KEY=VALUE[,KEY=VALUE]``, e.g.
  ``init_seed=1``) — ``info`` lists them. ``--failures FILE.csv`` also writes
  every recorded failure with its error.
- ``verify PATH``: SQLite's integrity check plus the store's own invariants;
  exit status 1 when a problem is found.

The store is opened read-only: none of these commands changes it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from archscore.store import ScoreStore, export, pick_settings

EXIT_PROBLEMS = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("info", "export", "verify"), help="what to do with the store")
    p.add_argument("path", type=Path, help="the score store file")
    p.add_argument("--out", type=Path, default=None, help="export: the .csv or .parquet file to write")
    p.add_argument("--settings", default=None, help="export: settings id or KEY=VALUE[,KEY=VALUE] (needed when the store holds several)")
    p.add_argument("--proxies", default=None, help="export: comma-separated proxies (default: every proxy stored)")
    p.add_argument("--failures", type=Path, default=None, help="export: also write recorded failures (arch, proxy, error) to this CSV")
    p.add_argument("--json", action="store_true", help="info: print JSON")


def run(args: argparse.Namespace) -> int:
    if args.action == "export" and args.out is None:
        raise ValueError("store export needs --out FILE.csv (or .parquet)")
    with ScoreStore(args.path, readonly=True) as store:
        if args.action == "info":
            info = store.info()
            if args.json:
                print(json.dumps(info, indent=2))
                return 0
            print(f"{info['path']}: {info['bytes']:,} bytes, written by {info['created_by']} (schema {info['schema']}), "
                  f"{len(info['settings'])} settings")
            for e in info["settings"]:
                print(f"settings {e['id']}: {e['archs']} archs, {e['ok']} scores, {e['failed']} failures; "
                      f"proxies {', '.join(e['proxies']) or '-'}" + (f"; search history of {e['queries']} queries" if e["queries"] else ""))
                print("  " + json.dumps(e["settings"], sort_keys=True))
            return 0
        if args.action == "verify":
            problems = store.verify()
            for line in problems:
                print(f"problem: {line}")
            n = sum(e["ok"] + e["failed"] for e in store.settings())
            print(f"{args.path}: {'OK' if not problems else f'{len(problems)} problem(s)'} ({n} rows)")
            return EXIT_PROBLEMS if problems else 0
        sid = pick_settings(store, args.settings)
        proxies = None
        if args.proxies:
            proxies = [p.strip() for p in args.proxies.split(",") if p.strip()]
            unknown = sorted(set(proxies) - set(store.proxies(sid)))
            if unknown:
                raise ValueError(f"proxies {unknown} are not in settings {sid} of {args.path}; it holds {store.proxies(sid)}")
        n = export(store, sid, args.out, proxies=proxies)
        print(f"wrote {n} architectures x {len(proxies or store.proxies(sid))} proxies (settings {sid}) to {args.out}")
        if args.failures is not None:
            fails = pd.DataFrame(store.failures(sid), columns=["arch", "proxy", "error"])
            fails.to_csv(args.failures, index=False)
            print(f"wrote {len(fails)} recorded failures to {args.failures}")
    return 0
