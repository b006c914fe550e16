"""Shared fixtures: one loaded embedder per session, fresh stores, a real `chroma run` server; and
the tiers: every test outside tests/unit is marked by what it needs (`pytest_collection_modifyitems`)."""

from __future__ import annotations

import contextlib
import inspect
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from rag.config import Settings
from rag.embedding import LocalMiniLM
from rag.pipeline import Pipeline

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_ID = "000_c06dfa642b09c354.txt"
SEED_QUESTION = "What did Belarus offer Astrakhan?"


# --- tiers (docs/TESTING.md) ---------------------------------------------------------------------
# tests/unit needs no model, no server and no process. Everything else is marked, from the fixtures
# it uses and the code it runs (its own body, its fixtures', and the module functions it calls):
_NEEDS = {
    "model": re.compile(r"\bminilm\b|LocalMiniLM|Pipeline\.from_settings|CliRunner|create_app|run_eval|"
                        r"\bserving\(|sys\.executable, \"-m\", \"rag\""),
    "chroma_server": re.compile(r"\bchroma_url\b|start_chroma|RAG_CHROMA_URL"),
    "llm_fake": re.compile(r"\bfake_llm(_server)?\b|FakeLLM"),
    "browser": re.compile(r"playwright|chromium"),
    "processes": re.compile(r"subprocess|Popen|pexpect|\bserving\(|start_chroma|StemWorker|multiprocessing|"
                            r"sys\.executable"),
}
UNIT = Path(__file__).resolve().parent / "unit"


def _code_of(item: pytest.Function) -> str:
    """The source a test runs that this file can see: its body, its fixtures', and the module-level
    functions those name (one level), so a helper that starts a process marks its callers."""
    module = item.module
    funcs = [item.obj] + [defs[-1].func for defs in item._fixtureinfo.name2fixturedefs.values()]
    seen: set[object] = set()
    parts: list[str] = []
    for fn in funcs:
        if fn in seen:
            continue
        seen.add(fn)
        try:
            source = inspect.getsource(fn)
        except (OSError, TypeError):
            continue
        parts.append(source)
        for name in set(re.findall(r"\b([A-Za-z_]\w*)\(", source)):
            helper = getattr(module, name, None)
            if inspect.isfunction(helper) and helper not in seen and helper.__module__ == module.__name__:
                seen.add(helper)
                try:
                    parts.append(inspect.getsource(helper))
                except (OSError, TypeError):  # made at run time (a hypothesis strategy): no source
                    continue
    return "\n".join(parts)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        code = _code_of(item) + " " + " ".join(item.fixturenames)
        if getattr(item, "callspec", None) is not None and item.callspec.params.get("backend") == "server":
            code += " chroma_url start_chroma"
        needs = [name for name, pattern in _NEEDS.items() if pattern.search(code)]
        if UNIT in Path(item.path).parents:
            if needs:
                raise pytest.UsageError(f"{item.nodeid} is in tests/unit but needs {', '.join(needs)}: "
                                        "move it out of tests/unit")
            continue
        for name in needs:
            item.add_marker(name)


class CountingEmbedder:
    """The real local model, counting how many texts it was asked to embed."""

    def __init__(self, inner: LocalMiniLM) -> None:
        self.inner = inner
        self.name = inner.name
        self.max_tokens = inner.max_tokens
        self.embedded = 0

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.embedded += len(texts)
        return self.inner.embed(texts)

    def count_tokens(self, texts):  # type: ignore[no-untyped-def]
        return self.inner.count_tokens(texts)


@pytest.fixture(scope="session")
def minilm() -> LocalMiniLM:
    return LocalMiniLM()


@pytest.fixture
def embedder(minilm: LocalMiniLM) -> CountingEmbedder:
    return CountingEmbedder(minilm)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_chroma(path: Path, port: int) -> subprocess.Popen:  # type: ignore[type-arg]
    """A real `chroma run` server on loopback, returned once it answers its heartbeat."""
    exe = shutil.which("chroma", path=str(Path(sys.executable).parent)) or shutil.which("chroma")
    assert exe, "the `chroma` command (from the chromadb package) is missing: run `make install`"
    path.mkdir(parents=True, exist_ok=True)
    log = open(path / "server.log", "ab")
    proc = subprocess.Popen([exe, "run", "--path", str(path / "data"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT)
    # A start-up wait, not a check: with `pytest -n 2` two servers may come up beside busy tests.
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).read()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"chroma run did not start; see {path / 'server.log'}") from None
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def chroma_url(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A real `chroma run` server on loopback, started for this test session."""
    port = _free_port()
    proc = start_chroma(tmp_path_factory.mktemp("chroma-server"), port)
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture(params=["embedded", "server"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings for a fresh store on each backend: embedded Chroma and a `chroma run` server."""
    if request.param == "embedded":
        return Settings(data_dir=tmp_path / "store")
    url = request.getfixturevalue("chroma_url")
    # A unique prefix gives each test its own collections on the shared server.
    return Settings(data_dir=tmp_path / "unused", chroma_url=url,
                    collection_prefix=f"t{time.monotonic_ns()}")


@pytest.fixture
def pipeline(backend: Settings, embedder: CountingEmbedder) -> Pipeline:
    return Pipeline(backend, embedder=embedder)


@pytest.fixture
def embedded_pipeline(tmp_path: Path, embedder: CountingEmbedder) -> Pipeline:
    return Pipeline(Settings(data_dir=tmp_path / "store"), embedder=embedder)


@pytest.fixture(scope="session")
def fake_llm_server():  # type: ignore[no-untyped-def]
    from tests.fake_llm import FakeLLM

    fake = FakeLLM().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake_llm(fake_llm_server):  # type: ignore[no-untyped-def]
    """The session's fake OpenAI-compatible server, with an empty script and request log."""
    fake_llm_server.queue.clear()
    fake_llm_server.requests.clear()
    fake_llm_server.hangups.clear()
    return fake_llm_server


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory, minilm: LocalMiniLM) -> Path:
    """An embedded store holding the seed article, ingested once per session."""
    from rag.loaders import load_paths

    path = tmp_path_factory.mktemp("seeded") / "store"
    Pipeline(Settings(data_dir=path), embedder=minilm).ingest(load_paths([SEEDS], 10**7).articles)
    return path


@pytest.fixture
def llm_pipeline(seeded_dir: Path, minilm: LocalMiniLM, fake_llm):  # type: ignore[no-untyped-def]
    """Build a pipeline over the seeded store that answers with the fake LLM."""
    def make(**overrides) -> Pipeline:  # type: ignore[no-untyped-def]
        settings = dict(data_dir=seeded_dir, llm_model="fake-model", llm_base_url=fake_llm.url,
                        llm_deadline_s=10.0, llm_timeout_s=5.0)
        return Pipeline(Settings(**{**settings, **overrides}), embedder=minilm)
    return make


@contextlib.contextmanager
def serving(env: dict[str, str], *args: str, log_path: Path | None = None):  # type: ignore[no-untyped-def]
    """`rag serve` as a real process on a free loopback port; yields its base URL. Its output goes
    to `log_path` when given."""
    port = _free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")} | env
    log = open(log_path, "w+b") if log_path else tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "rag", "serve", "--port", str(port), *args],
                            env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/healthz", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"rag serve did not start:\n{log.read().decode(errors='replace')}") from None
                time.sleep(0.2)
        yield url
    finally:
        stop(proc)
        log.close()


def default_sigint() -> None:
    """For a child that must see Ctrl-C: a shell runs background jobs (`make test &`, `nohup`) with
    SIGINT ignored, a child inherits that, and Python then never raises KeyboardInterrupt."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)

