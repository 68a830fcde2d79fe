"""The package's public surface and its install layout."""

import importlib
import pathlib
import subprocess
import sys
import tomllib

import ffstream

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_public_name_resolves():
    for name in ffstream.__all__:
        assert getattr(ffstream, name) is not None, name


def test_every_source_package_is_listed_in_pyproject():
    """The package list is explicit (envs/ ships as ffstream.envs): nothing may be left out."""
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        "ffstream." + ".".join(p.parent.relative_to(ROOT / "ffstream").parts)
        for p in (ROOT / "ffstream").rglob("__init__.py")
    }
    found = {name.rstrip(".") for name in found}
    found |= {
        "ffstream.envs" + "".join("." + part for part in p.parent.relative_to(ROOT / "envs").parts)
        for p in (ROOT / "envs").rglob("__init__.py")
    }
    assert found == listed


def test_envs_is_not_a_top_level_module():
    assert importlib.util.find_spec("envs") is None or "site-packages" not in str(
        importlib.util.find_spec("envs").origin
    )
    assert importlib.import_module("ffstream.envs").make is not None


def test_cli_version_and_help():
    out = subprocess.run(
        [sys.executable, "-m", "ffstream.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"ffstream {ffstream.__version__}"
    help_text = subprocess.run(
        [sys.executable, "-m", "ffstream.cli", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("run", "bench", "envs"):
        assert command in help_text


def test_ci_runs_exactly_the_readme_commands():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    blocks = readme.split("```bash\n")[1:]
    install, test = (block.split("\n```")[0].strip() for block in blocks[:2])
    assert "ffstream run --env CartPole-v1" in install and test == "pytest"
    ci_lines = [line.strip() for line in ci.splitlines() if not line.lstrip().startswith("#")]
    assert install in ci_lines
    assert "pytest || status=$?" in ci_lines  # the README's test command, exit 5 handled


def test_readme_python_example_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    code = readme.split("```python\n")[1].split("```")[0]
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert printed.count("slept") == 3  # the default EveryN(1000) over 3,000 frames
    # raw units spanning six orders of magnitude, offset by 300: the defaults still learn them
    assert float(printed.split()[-1]) > 0.85, printed


def test_readme_benchmark_numbers_are_on_the_rendered_page():
    """The README quotes only numbers that BENCHMARKS.md (rendered from records) holds."""
    import re

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Benchmarks\n", 1)[1].split("\n## ", 1)[0]
    page = (ROOT / "BENCHMARKS.md").read_text()
    numbers = re.findall(r"\d[\d,]*\.\d+", section)
    assert numbers, "the README's Benchmarks section quotes no number"
    for number in numbers:
        assert number in page, f"README quotes {number}, which BENCHMARKS.md does not hold"


def test_every_committed_plot_is_on_the_page():
    """A plot the page no longer links is stale: rendering redraws only the ones it shows."""
    page = (ROOT / "BENCHMARKS.md").read_text() + (ROOT / "README.md").read_text()
    plots = sorted((ROOT / "benchmarks" / "plots").glob("*.png"))
    assert plots, "no plots committed"
    stale = [p.name for p in plots if f"benchmarks/plots/{p.name}" not in page]
    assert not stale, f"plots no page links (remove them): {stale}"


def test_package_docstrings_quote_no_measured_percentages():
    """Measured numbers live on BENCHMARKS.md (rendered from records), never in docstrings."""
    import ast
    import re

    for path in (ROOT / "ffstream").rglob("*.py"):
        tree = ast.parse(path.read_text())
        nodes = [tree] + [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        ]
        for node in nodes:
            doc = ast.get_docstring(node) or ""
            found = re.findall(r"\d+(?:\.\d+)?\s?%", doc)
            assert not found, f"{path}: docstring quotes {found}"


def test_licence_file_matches_pyproject_and_type_hints_ship():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert (ROOT / "ffstream" / "py.typed").exists()
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["ffstream"]
