"""The `unlearnbench` command line: run, sweep, tune, bench, results, reports, and listings of what is registered.

Each command imports what it needs when it runs, so `--help` and a mistyped command answer without loading torch's
companions (scikit-learn, SciPy, matplotlib, Jinja2) or any plugin.
"""
from __future__ import annotations

import argparse
import dataclasses
import shlex
import signal
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Optional, Sequence

from unlearnbench.core.defaults import (DEFAULT_METHODS, DEFAULT_OUT, DEFAULT_TUNE_SEED, DEFAULT_YARDSTICK,
                                        LEADERBOARD_FORMAT_NAMES, SPEED_FORMATS, TABLE_FORMATS)
from unlearnbench.core.errors import UserError
from unlearnbench.core.shipped import CHOICES as DEFAULT_CHOICES

if TYPE_CHECKING:
    from unlearnbench.api import Results
    from unlearnbench.execution.runner import RunRequest



class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, no usage dump: the user sees what was wrong and where to look.
        self.exit(2, f"unlearnbench: error: {message} (see `{self.prog} --help`)\n")


def _key_values(items: Sequence[str], flag: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{flag} {item!r} is malformed: use KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def _method_params(items: Sequence[str]) -> dict[str, dict[str, str]]:
    params: dict[str, dict[str, str]] = {}
    for key, value in _key_values(items, "--set").items():
        method, dot, field = key.partition(".")
        if not dot or not field:
            raise UserError(f"--set {key}={value} is malformed: use METHOD.PARAM=VALUE, e.g. unsir.noise_lr=0.05")
        params.setdefault(method, {})[field] = value
    return params


def _progress(message: str, transient: bool = False) -> None:
    # On a terminal, transient lines (epoch counters) overwrite each other; in logs they are left out.
    if sys.stderr.isatty():
        print(f"\r\033[K  {message}", end="" if transient else "\n", file=sys.stderr, flush=True)
    elif not transient:
        print(f"  {message}", file=sys.stderr, flush=True)


def _cache_dir(args: argparse.Namespace) -> Optional[Path]:
    return Path(args.cache_dir) if args.cache_dir else None


def _setting_request(args: argparse.Namespace, **extra: Any) -> "RunRequest":
    """The RunRequest that the shared setting options (dataset ... --recipe) describe, plus `extra` fields."""
    from unlearnbench.api import request

    chosen = args.methods if args.methods is not None else ",".join(DEFAULT_METHODS)
    if chosen.strip() == "all":
        from unlearnbench.core.method import METHODS, role_of
        from unlearnbench.reports.aggregate import ROLE_ORDER

        methods = tuple(sorted(METHODS.names(), key=lambda name: ROLE_ORDER.index(role_of(name))))
    else:
        methods = tuple(m.strip() for m in chosen.split(",") if m.strip())
    # The default list and `all` drop the methods a scenario does not suit; an explicit one is refused for them.
    return request(dataset=args.dataset, model=args.model, methods=methods, forget=args.forget, device=args.device,
                   data_root=args.data_root, cache_dir=_cache_dir(args), recipe=_key_values(args.recipe, "--recipe"),
                   threads=args.threads, skip_unsupported=args.methods in (None, "all"), defaults=args.defaults,
                   **extra)


def cmd_run(args: argparse.Namespace) -> int:
    """Runs the requested methods on one setting and prints the results table."""
    from unlearnbench.api import run_requests
    from unlearnbench.execution.runner import not_applicable

    request = _setting_request(args, params=_method_params(args.set), seed=args.seed, download=args.download,
                               mia_shadows=args.mia_shadows, remeasure_retrain=args.remeasure_retrain,
                               deep_metrics=args.deep_metrics,
                               save_models=str(Path(args.out) / "models") if args.save_models else None,
                               original=args.original, retrained=args.retrained)
    if args.params:
        from unlearnbench.execution.params_file import apply_params, read_params_file

        request, warnings = apply_params(read_params_file(Path(args.params)), request, args.methods is not None)
        for warning in warnings:
            print(f"unlearnbench: warning: {warning}", file=sys.stderr)
    if args.population is not None:
        return _run_population(request, args)
    ran = run_requests([request], Path(args.out), None if args.quiet else _progress)  # the Python API's path
    rows = ran.rows
    print(ran.table())
    skipped = not_applicable(request)
    if skipped:
        print(f"n/a ({request.forget.scenario} scenario, not run): {', '.join(skipped)}")
    report = _report_after_run(ran)
    print(f"\nstored {len(rows)} rows in {ran.out / 'results.db'}; report: {report}")
    print(next_steps(Path(args.out), report))
    return 0 if all(r["status"] == "ok" for r in rows) else 1


def _run_population(request: "RunRequest", args: argparse.Namespace) -> int:
    """`run --population N`: the challenge's forgetting quality of every requested method against N retrained
    models; raw statistics under OUT/population/."""
    return _populations([request], args.population, args.protocol, args)


def _populations(requests: Sequence["RunRequest"], size: int, protocol: str, args: argparse.Namespace) -> int:
    """Each request's populations, their tables printed, then the population report of OUT; 1 if a member failed."""
    from unlearnbench.api import populations
    from unlearnbench.reports.population import population_text

    outcomes, report = populations(requests, size, protocol, args.out, None if args.quiet else _progress,
                                   args.backend, args.workers, args.ray_address)
    for o in outcomes:
        print(population_text(o.folder) + "\n")
    print(f"raw statistics (per method, [N, forget examples]): {report.parent}; report: {report}")
    return 0 if all(r.ok == r.size for o in outcomes for r in o.methods) else 1


def next_steps(out: Path, report: str) -> str:
    """The three commands a user runs after a run or sweep: open the report, the leaderboard, the figures."""
    quoted = shlex.quote(str(out))
    steps = [(f"unlearnbench leaderboard --out {quoted}",
              "methods ranked by their gap to retraining (--format md|csv|html, --gap salun)"),
             (f"unlearnbench figures --out {quoted} --to {shlex.quote(str(out / 'figures'))}",
              "paper figures (PDF, SVG, PNG) and LaTeX tables")]
    if report != "not written":
        opener = "open" if sys.platform == "darwin" else "xdg-open"
        steps.insert(0, (f"{opener} {shlex.quote(report)}", "the HTML report: ranking, table, figures"))
    width = max(len(command) for command, _ in steps)
    return "\n".join(["", "next:"] + [f"  {command:<{width}}  # {what}" for command, what in steps])


def _stored(out: str) -> "Results":
    """Every row of OUT's store; rows it could not decode are named on stderr."""
    from unlearnbench.api import results

    stored = results(out)
    if stored.skipped:
        print(f"unlearnbench: warning: {stored.skipped}", file=sys.stderr)
    return stored


def _report_after_run(stored: "Results") -> str:
    """The report of a run or sweep whose rows are stored already: failing to write it is a warning, not a failure."""
    try:
        return str(stored.report())
    except UserError as exc:
        print(f"unlearnbench: warning: {exc}; the rows are stored: `unlearnbench report` renders it later",
              file=sys.stderr)
        return "not written"


def cmd_sweep(args: argparse.Namespace) -> int:
    """Runs a suite's pending cells, then renders the report of the whole store."""
    from unlearnbench.api import sweep

    outcome = sweep(args.suite, args.out, args.backend, args.workers, args.rerun, args.retry_failed, args.ray_address,
                    None if args.quiet else _progress, args.data_root, args.cache_dir, args.threads,
                    args.remeasure_retrain)
    suite, summary = outcome.suite, outcome.summary
    for warning in suite.warnings:
        print(f"unlearnbench: warning: {warning}", file=sys.stderr)
    report = _report_after_run(outcome.results)
    if suite.population:  # after the cells; members are cached, so a rerun resumes
        _populations(suite.requests, suite.population, suite.protocol, args)
    hint = " (rerun them with --retry-failed)" if summary.skipped_failed else ""
    na = f"; {suite.not_applicable} n/a (the method does not suit the scenario)" if suite.not_applicable else ""
    print(f"suite {suite.name}: {summary.cells} cells; ran {summary.ran} ({summary.failed} failed); skipped "
          f"{summary.skipped_ok} already ok and {summary.skipped_failed} failed before{hint}{na}; report: {report}")
    print(next_steps(Path(args.out), report))
    return 0 if summary.failed == 0 else 1


def cmd_rescore(args: argparse.Namespace) -> int:
    """Recomputes every metric of the models saved with --save-models, then re-renders the report."""
    from unlearnbench.api import rescore

    count, stored = rescore(args.out, args.data_root, args.cache_dir, None if args.quiet else _progress)
    report = _report_after_run(stored)
    print(f"rescored {count} rows from their saved models in {stored.out / 'results.db'}; report: {report}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    """Tunes each method with the same budget on the validation split and writes the tuned-parameters file."""
    from unlearnbench.api import tune
    from unlearnbench.core.space import parse_spaces
    from unlearnbench.reports.tuning import format_tuning
    from unlearnbench.core.seeds import tuning_seeds
    from unlearnbench.tuning.tune import tunable_methods

    request = _setting_request(args, params=_method_params(args.set), seed=args.tune_seed)
    if args.methods in (None, "all"):
        request = dataclasses.replace(request, methods=tunable_methods(request.forget.scenario))
    outcome = tune(request, args.out, args.trials, args.budget_s, parse_spaces(args.space), args.backend,
                   None if args.quiet else _progress, args.ray_address, args.tune_seeds)
    print(format_tuning(outcome.studies, outcome.budget))
    flags = " ".join(f"--{k} {shlex.quote(str(v))}" for k, v in (("dataset", request.dataset), ("model", request.model),
                                                                  ("forget", request.forget.label)))
    recipe = "".join(f" --recipe {shlex.quote(f'{k}={v}')}" for k, v in request.recipe.items())
    recipe += "".join(f" {flag} {shlex.quote(str(value))}" for flag, value in (("--data-root", args.data_root),
                                                                                ("--cache-dir", args.cache_dir))
                      if value)
    print(f"\nwrote {outcome.path} and {outcome.figure}\nnext:\n  unlearnbench run --params "
          f"{shlex.quote(str(outcome.path))} {flags}{recipe} --seed 0 --out {shlex.quote(args.out)}  "
          f"# seeds other than the tuning seed{'s' if args.tune_seeds > 1 else ''} "
          f"{', '.join(map(str, tuning_seeds(request.seed, args.tune_seeds)))}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Prints per-method seconds, ratios to their plain loops, and achieved GFLOP/s against the measured peak."""
    from unlearnbench.api import bench
    from unlearnbench.speed.bench import format_speed, load_speed_record, save_speed_record, speed_record

    if args.show:
        print("\n\n".join(format_speed(load_speed_record(Path(path)), args.format) for path in args.show))
        return 0
    report = bench(_setting_request(args, params=_method_params(args.set)), args.repeat,
                   None if args.quiet else _progress, args.profile, args.population or 0)
    record = speed_record(report, "unlearnbench " + shlex.join(args.argv))
    print(format_speed(record, args.format))
    if args.save:
        save_speed_record(record, Path(args.save))
        print(f"\nsaved to {args.save}: `unlearnbench bench --show {shlex.quote(args.save)}` prints it again")
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    """Prints stored rows as a table, JSON or CSV."""
    print(_stored(args.out).table(args.gap, args.format))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Renders the HTML report of everything in the store."""
    print(_stored(args.out).report(args.html, args.gap))
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Prints the methods ranked by their gap to the retrained model per setting."""
    print(_stored(args.out).leaderboard(args.gap, args.format))
    return 0


def cmd_figures(args: argparse.Namespace) -> int:
    """Writes paper figures (PDF, SVG, PNG) and LaTeX tables to a folder."""
    written = _stored(args.out).figures(args.to, args.gap)
    print("\n".join(str(p) for p in written) or "(no results stored: nothing to draw)")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """Lists registered methods, datasets or models."""
    from unlearnbench.api import registered

    for name, description in registered(args.command):
        print(f"{name:18s} {description}")
    return 0


# Options several subcommands share: flag -> argparse keyword arguments.
SHARED_OPTIONS: dict[str, dict[str, Any]] = {
    "--dataset": dict(default="digits", help="dataset name (default: digits, embedded)"),
    "--model": dict(default="mlp", help="model name (default: mlp)"),
    "--methods": dict(help=f"comma-separated, or all (default: {','.join(DEFAULT_METHODS)}; the default and all "
                           "leave out those the forget scenario does not suit)"),
    "--forget": dict(default="0", help="what to forget: 0 or 0,2 (whole classes), partial:3@0.5, random:0.1, "
                                       "random:0.1:stratified, subclass:0 (default: 0)"),
    "--device": dict(default="auto", help="auto, cpu or cuda (default: auto)"),
    "--data-root": dict(help="folder holding torchvision datasets (or set UNLEARNBENCH_DATA)"),
    "--cache-dir": dict(help="trained-model cache (default: ~/.cache/unlearnbench)"),
    "--out": dict(default=str(DEFAULT_OUT), help="output folder holding results.db"),
    "--quiet": dict(action="store_true", help="no progress lines"),
    "--recipe": dict(action="append", default=[], metavar="FIELD=VALUE",
                     help="override the training recipe, e.g. epochs=3 or precision=bf16 (repeatable)"),
    "--threads": dict(type=int, default=0, metavar="N",
                      help="CPU threads (default 0: measured choice per dataset/model, see docs/speed.md)"),
    "--set": dict(action="append", default=[], metavar="METHOD.PARAM=VALUE",
                  help="override a method hyperparameter (repeatable)"),
    "--defaults": dict(default="shipped", choices=DEFAULT_CHOICES,
                       help="shipped: each method's values tuned by the harness for the setting where the package "
                            "ships them, else its authors'; paper: the authors' everywhere (default: shipped)"),
    "--remeasure-retrain": dict(action="store_true",
                                help="train and time the retrained model again even when it is cached"),
}


def _command(sub: Any, name: str, help: str, func: Any, *shared: str) -> argparse.ArgumentParser:
    parser = sub.add_parser(name, help=help)
    for flag in shared:
        parser.add_argument(flag, **SHARED_OPTIONS[flag])
    parser.set_defaults(func=func)
    return parser


def _gap_name(name: str) -> str:
    """`--gap`'s value checked against the defined yardsticks (read when a command runs, so `--help` stays fast)."""
    from unlearnbench.metrics import YARDSTICKS

    if name not in YARDSTICKS:
        raise argparse.ArgumentTypeError(f"unknown gap definition {name!r}; choose one of {', '.join(YARDSTICKS)}")
    return name


def _gap_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gap", type=_gap_name, default=DEFAULT_YARDSTICK,
                        help="gap definition: concerns (forgetting, utility and privacy scored apart; default) or "
                             "salun (SalUn's Avg. Gap over UA, RA, TA and MIA-efficacy)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(prog="unlearnbench", description="Benchmark machine-unlearning methods on image classifiers.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    setting = ("--dataset", "--model", "--methods", "--forget", "--device", "--data-root", "--cache-dir", "--recipe",
               "--threads", "--defaults")
    run_p = _command(sub, "run", "run methods on one dataset/model/forget setting", cmd_run, *setting, "--set",
                     "--out", "--quiet", "--remeasure-retrain")
    run_p.add_argument("--seed", type=int, default=0, help="seed of training and methods (default: 0)")
    run_p.add_argument("--download", action="store_true", help="download missing torchvision datasets")
    run_p.add_argument("--mia-shadows", type=int, default=0, metavar="K",
                       help="per-example likelihood-ratio test (LiRA-style, not U-LiRA) with K original + K "
                            "retrained shadow models (default 0: off)")
    run_p.add_argument("--params", metavar="FILE", help="tuned parameters written by `unlearnbench tune` (rows are "
                                                        "marked tuned); without --methods, runs the file's methods")
    run_p.add_argument("--population", type=int, metavar="N",
                       help="the NeurIPS 2023 challenge's forgetting quality: N retrained and, per method, N "
                            "unlearned models scored per forget example (at least 3; docs/populations.md)")
    run_p.add_argument("--protocol", default="challenge",
                       help="with --population: challenge (one original, N unlearning runs; default) or seeds "
                            "(N originals, one run each)")
    run_p.add_argument("--backend", default="local", choices=("local", "ray"),
                       help="with --population: where the methods' members run (default local)")
    run_p.add_argument("--workers", type=int, default=1,
                       help="with --population: processes (or Ray tasks) the members are spread over (default 1)")
    run_p.add_argument("--ray-address", help="with --backend ray: a running cluster's address (default: start one)")
    run_p.add_argument("--original", metavar="PATH",
                       help="your own original model: a state dict saved with torch.save(model.state_dict(), PATH), of "
                            "this setting's architecture; it is scored and unlearned instead of one trained here")
    run_p.add_argument("--retrained", metavar="PATH",
                       help="your own retrained reference (a state dict); by default it is trained on retain-train "
                            "with the setting's recipe")
    run_p.add_argument("--save-models", action="store_true",
                       help="keep every unlearned model in OUT/models (checksummed; unlearnbench.load_model, rescore)")
    run_p.add_argument("--deep-metrics", action="store_true",
                       help="also relearn time, a retain-only attack, linear/k-NN probes and CKA to the retrained "
                            "model (about 1-2 s per MNIST/mlp cell on 2 cores)")
    _command(sub, "rescore", "recompute the metrics of models saved with --save-models (no method runs)",
             cmd_rescore, "--out", "--data-root", "--cache-dir", "--quiet")
    res_p = _command(sub, "results", "print stored results", cmd_results, "--out")
    res_p.add_argument("--format", choices=TABLE_FORMATS, default="table")
    _gap_option(res_p)
    sw_p = _command(sub, "sweep", "run a suite file's grid, resuming where it stopped", cmd_sweep, "--out",
                    "--data-root", "--cache-dir", "--quiet", "--threads", "--remeasure-retrain")
    sw_p.add_argument("suite", help="a suite .toml file, or a built-in suite: smoke, mnist, cifar10")
    sw_p.add_argument("--backend", default="local", choices=("local", "ray"), help="where cells run (default local)")
    sw_p.add_argument("--workers", type=int, default=1, help="settings run at once (default 1)")
    sw_p.add_argument("--ray-address", help="an existing Ray cluster (default: start one locally)")
    sw_p.add_argument("--rerun", action="store_true", help="run every cell again, even those stored ok")
    sw_p.add_argument("--retry-failed", action="store_true", help="run cells stored as failed again")
    tune_p = _command(sub, "tune", "tune methods with an equal budget on the validation split (Optuna)", cmd_tune,
                      *setting, "--set", "--out", "--quiet")
    budget = tune_p.add_mutually_exclusive_group()
    budget.add_argument("--trials", type=int, metavar="N", help="trials per method (default 20)")
    budget.add_argument("--budget-s", type=float, metavar="S", help="seconds of trials per method instead of a count")
    tune_p.add_argument("--tune-seed", type=int, default=DEFAULT_TUNE_SEED, metavar="K",
                        help=f"seed of the tuning setting; keep it out of the reported seeds (default "
                             f"{DEFAULT_TUNE_SEED})")
    tune_p.add_argument("--tune-seeds", type=int, default=1, metavar="N",
                        help="score every trial on N tuning settings (seeds K, K+1, ...) and average, so the values "
                             "chosen hold beyond one original model and forget draw (default 1)")
    tune_p.add_argument("--space", action="append", default=[], metavar="METHOD.FIELD=SPEC",
                        help="replace a search dimension: LOW:HIGH, LOW:HIGH:log, A|B|C or share:0.2 (epochs as a "
                             "share of the original's) (repeatable)")
    tune_p.add_argument("--backend", default="local", choices=("local", "ray"),
                        help="local: methods one by one; ray: each method's study as a Ray task (default local)")
    tune_p.add_argument("--ray-address", help="an existing Ray cluster (default: start one locally)")
    bench_p = _command(sub, "bench", "speed report: seconds, ratio to plain loops, share of peak", cmd_bench,
                       *setting, "--set", "--quiet")
    bench_p.add_argument("--repeat", type=int, default=1, help="runs per measurement, best kept (default 1)")
    bench_p.add_argument("--population", type=int, metavar="N",
                         help="also time N retrained members trained one by one and as one stacked model")
    bench_p.add_argument("--profile", action="store_true",
                         help="after timing, list each method's top 10 operators (torch.profiler)")
    bench_p.add_argument("--save", metavar="FILE", help="also write the measurement (and the machine) as JSON")
    bench_p.add_argument("--show", action="append", metavar="FILE",
                         help="print measurements saved with --save instead of measuring (repeatable)")
    bench_p.add_argument("--format", choices=SPEED_FORMATS, default="text", help="text (default) or md (Markdown)")
    rep_p = _command(sub, "report", "render the self-contained HTML report from the store", cmd_report, "--out")
    rep_p.add_argument("--html", help="where to write it (default: OUT/report.html)")
    _gap_option(rep_p)
    lb_p = _command(sub, "leaderboard", "methods ranked by their gap to the retrained model per setting",
                    cmd_leaderboard, "--out")
    lb_p.add_argument("--format", choices=LEADERBOARD_FORMAT_NAMES, default="md")
    _gap_option(lb_p)
    fig_p = _command(sub, "figures", "paper figures (PDF, SVG, PNG) and LaTeX tables", cmd_figures, "--out")
    fig_p.add_argument("--to", required=True, help="folder to write the figures into")
    _gap_option(fig_p)
    for name in ("methods", "datasets", "models"):
        _command(sub, name, f"list registered {name}", cmd_list)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the `unlearnbench` console script."""
    # A warning is one line on stderr, as errors are (no source line quoted under it).
    warnings.formatwarning = lambda message, *_args, **_kwargs: f"unlearnbench: warning: {message}\n"
    try:
        if hasattr(signal, "SIGPIPE") and argv is None:  # `unlearnbench results | head` ends quietly
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        args: Any = build_parser().parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for records that keep their command
        return args.func(args)
    except UserError as exc:
        print(f"unlearnbench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("unlearnbench: interrupted; rows stored so far are kept", file=sys.stderr)
        return 130

