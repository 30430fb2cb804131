"""Monitoring benchmarks (15-16), run by ``bench/run.py --monitoring-bench`` (or
``--monitoring-only``): they need no database and run the two standalone scripts in this
process.

15. ``bench/monitoring_match.py``: matching throughput with 10,000 watch rules, against a
    compiled regular-expression alternation and a naive loop (``--quick``: 1,000 rules);
16. ``bench/monitoring_spikes.py``: spike detection over a year of minute buckets for 1,000
    rules, against a rule-by-rule loop (``--quick``: 100 rules); with ``--monitoring-quality``,
    the detector's precision and recall on generated series with injected bursts.
"""

from __future__ import annotations

import monitoring_match
import monitoring_spikes


def add_arguments(parser) -> None:
    group = parser.add_argument_group("monitoring benchmarks (15-16)")
    group.add_argument(
        "--monitoring-bench", action="store_true", help="also run the monitoring benchmarks"
    )
    group.add_argument(
        "--monitoring-only", action="store_true", help="run the monitoring benchmarks only"
    )
    group.add_argument(
        "--monitoring-quality",
        action="store_true",
        help="also measure the spike detector's precision and recall (about 10 s)",
    )


def finish_args(parser, args) -> None:
    if args.monitoring_only:
        args.monitoring_bench = True


def bench_monitoring(args, results: dict) -> None:
    quick = ["--quick"] if args.quick else []
    print("\n== 15. Watch-rule matching", flush=True)
    results["monitoring_match_status"] = monitoring_match.main(quick)
    print("\n== 16. Spike detection", flush=True)
    monitoring_spikes.main(quick)
    if args.monitoring_quality:
        monitoring_spikes.main([*quick, "--quality"])
