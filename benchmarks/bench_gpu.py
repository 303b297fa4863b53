"""CPU vs CUDA kernel throughput (x real time), rerunnable: prints the table, writes JSON.

Same measurements as `voicecx bench` (voicecx/bench.py): pitch, energy, spectral, VAD,
pitch+energy and the whole prosody set, for one call of SECONDS and a batch of CALLS calls,
host->device copies included and also reported apart, JIT warm-up reported apart.

    python benchmarks/bench_gpu.py                          # 1 x 600 s and 100 x 600 s, cpu + cuda
    python benchmarks/bench_gpu.py --seconds 60 --calls 60  # 1 hour batch, quicker
    python benchmarks/bench_gpu.py --device cuda --json benchmarks/results/gpu.json

See docs/benchmarks.md for running it on a GPU machine and reading the output.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _kernels_from_checkout() -> None:
    """Make ``voicecx.kernels`` importable from a plain checkout (no `pip install`), e.g. on a GPU box.

    pyproject maps the package ``voicecx.kernels`` to the folder ``kernels/``; an installed copy
    needs nothing, a bare checkout gets that mapping here.
    """
    import importlib.util

    try:
        import voicecx.kernels  # noqa: F401
        return
    except ImportError:
        pass
    spec = importlib.util.spec_from_file_location(
        "voicecx.kernels", ROOT / "kernels" / "__init__.py", submodule_search_locations=[str(ROOT / "kernels")]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["voicecx.kernels"] = module
    spec.loader.exec_module(module)


_kernels_from_checkout()
from voicecx.bench import cli_bench  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="all", choices=["cpu", "cuda", "all"])
    p.add_argument("--seconds", type=float, default=600.0, help="seconds of audio per call")
    p.add_argument("--calls", type=int, default=100, help="calls in the batch")
    p.add_argument("--json", dest="json_out", default="bench_gpu.json", help="JSON output file")
    return cli_bench(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
