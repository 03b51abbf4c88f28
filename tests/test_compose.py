"""The production stack without Docker: render ``docker-compose.yml`` the way Compose does
(YAML anchors and merge keys, ``${VAR}`` / ``${VAR:-default}`` / ``${VAR:?message}``
interpolation, ``env_file``) with the values of ``.env.example``, and cross-check it against what
the code reads and opens, and against the ``Dockerfile``:

* every variable the DAGs, ``simpul.yaml`` and ``exchange/agreements.yaml`` read reaches every
  service that parses or runs DAGs, and is documented in ``.env.example``;
* every file the DAGs open is in the image: a copy of the repository made of the Dockerfile's
  COPY lines only registers every DAG (not ``simpul_config_error``);
* every module the code imports is installed by ``uv sync --no-dev`` (the image's install);
* no secret has a default; only the FAB-protected UI and the basic-auth Flower publish ports;
* the ``demo`` profile works inside the containers (the hub talks to the simulators by service
  name, with the simulators' credentials; the simulators sit on an internal network only).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
DAG_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
)
SECRET = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY$|FERNET|BASIC_AUTH)")
# read by the code but deliberately not part of a container's environment
NOT_DEPLOYMENT_SETTINGS = {
    "GX_ANALYTICS_ENABLED": "set by simpul.validate_gx itself",
    "AIRFLOW_CTX_DAG_ID": "set by Airflow inside a task",
    "SIMPUL_OPERATOR": "per operator command: docker compose run -e SIMPUL_OPERATOR=...",
    "SIMPUL_EXCHANGE_SIGNING_KEY_FILE": "alternative to SIMPUL_EXCHANGE_SIGNING_KEY",
    "SIMPUL_PSEUDONYM_KEY_FILE": "alternative to SIMPUL_PSEUDONYM_KEY",
    "SIMPUL_ENCRYPTION_KEY_FILE": "alternative to SIMPUL_ENCRYPTION_KEY",
    "SIMPUL_ANALYST_DB": "DuckDB only; default $SIMPUL_HOME/analyst.duckdb in the data volume",
    "SIMPUL_LOG_LEVEL": "simpul CLI only; optional (commented out in .env.example)",
    "SIMPUL_DEBUG": "simpul CLI only; optional (commented out in .env.example)",
}


# --------------------------------------------------------------------------- rendering


class Missing(Exception):
    """A ``${VAR:?message}`` whose variable is unset or empty: Compose refuses to start."""

    def __init__(self, var: str, message: str) -> None:
        super().__init__(f"{var}: {message}")
        self.var = var


_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_]\w*)")


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ``$$`` is a literal ``$``; ``:-``/``:?`` treat empty as unset."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-"):
            return arg if unset else value  # type: ignore[return-value]
        if op in (":?", "?"):
            if unset:
                raise Missing(name, arg)
            return value  # type: ignore[return-value]
        return value or ""

    return _VAR.sub(one, text)


def parse_env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, value = line.partition("=")
        out[name.strip()] = value.strip().strip("'\"")
    return out


def _walk(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, list):
        return [_walk(v, env) for v in node]
    if isinstance(node, dict):
        return {k: _walk(v, env) for k, v in node.items()}
    return node


def render(env: dict[str, str]) -> dict[str, Any]:
    """The compose model as ``docker compose config`` would print it (the parts used here):
    each service's ``environment`` is its env_file(s) overlaid with its own entries."""
    model = _walk(yaml.safe_load(COMPOSE_TEXT), env)
    for svc in model["services"].values():
        merged: dict[str, str] = {}
        for item in svc.get("env_file") or []:
            path = item["path"] if isinstance(item, dict) else item
            # the test's .env is the rendering env itself (an operator's copy of .env.example)
            merged.update(env if path == ".env" else parse_env_file(ROOT / path))
        own = svc.get("environment") or {}
        merged.update({k: "" if v is None else str(v) for k, v in own.items()})
        svc["environment"] = merged
    return model


ENV_EXAMPLE = parse_env_file(ROOT / ".env.example")


def required_vars() -> set[str]:
    return set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*):?\?", COMPOSE_TEXT))


def filled(env: dict[str, str]) -> dict[str, str]:
    """``.env.example`` as an operator fills it: every required secret set."""
    out = dict(env)
    for var in required_vars():
        out[var] = out.get(var) or f"test-{var.lower().replace('_', '-')}-value-0123456789abcdef"
    return out


@pytest.fixture(scope="module")
def production() -> dict[str, Any]:
    return render(filled(ENV_EXAMPLE))


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    # docker compose --env-file .env --env-file docker/demo.env --profile demo up
    return render({**filled(ENV_EXAMPLE), **parse_env_file(ROOT / "docker" / "demo.env")})


# --------------------------------------------------------------------------- what the hub reads


def _py_files() -> list[Path]:
    files = []
    for top in ("simpul", "connectors", "dags", "expectations", "mappings"):
        files += sorted((ROOT / top).rglob("*.py"))
    return files


def code_variables() -> set[str]:
    """Environment variables the code reads: ``os.environ.get("X")``, ``os.environ["X"]``,
    ``getenv("X")`` and the ``*_ENV = "X"`` constants passed to them."""
    found: set[str] = set()
    for path in _py_files():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                f = ast.unparse(node.func)
                if f in ("os.environ.get", "os.getenv", "os.environ.setdefault", "getenv"):
                    arg = node.args[0]
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        found.add(arg.value)
            if isinstance(node, ast.Subscript) and ast.unparse(node.value) == "os.environ":
                if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                    found.add(node.slice.value)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for t in node.targets:
                    if (
                        isinstance(t, ast.Name)
                        and t.id.endswith("_ENV")
                        and isinstance(node.value.value, str)
                        and re.fullmatch(r"[A-Z][A-Z0-9_]+", node.value.value)
                    ):
                        found.add(node.value.value)
    return found


def config_variables() -> set[str]:
    """The ``*_env`` names of simpul.yaml and exchange/agreements.yaml."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if str(k).endswith("_env") and isinstance(v, str):
                    found.add(v)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(yaml.safe_load((ROOT / "simpul.yaml").read_text()))
    walk(yaml.safe_load((ROOT / "exchange" / "agreements.yaml").read_text()))
    return found


def simulator_variables() -> set[str]:
    from simpul.simulators.runner import DEMO_CREDENTIALS

    return set(DEMO_CREDENTIALS)


def test_the_scanners_see_the_known_variables():
    code, config = code_variables(), config_variables()
    assert {"SIMPUL_PSEUDONYM_KEY", "SIMPUL_EXCHANGE_SIGNING_KEY", "SIMPUL_HOME"} <= code
    assert {"SIMPUL_OSS_CLIENT_SECRET", "SIMPUL_PATEN_DB_URL", "SIMPUL_CKAN_TOKEN"} <= config
    assert "SIMPUL_EXCHANGE_DISDUKCAPIL_URL" in config


def test_every_variable_the_hub_reads_reaches_every_dag_service(production):
    wanted = (code_variables() | config_variables()) - simulator_variables()
    wanted -= set(NOT_DEPLOYMENT_SETTINGS)
    for name in DAG_SERVICES:
        env = production["services"][name]["environment"]
        missing = sorted(wanted - set(env))
        assert not missing, f"{name} does not get {missing}"


def test_every_variable_the_hub_reads_is_documented_in_env_example():
    text = (ROOT / ".env.example").read_text()
    wanted = (code_variables() | config_variables()) - simulator_variables()
    wanted -= {"GX_ANALYTICS_ENABLED", "AIRFLOW_CTX_DAG_ID", "SIMPUL_EXCHANGE_SIGNING_KEY_FILE"}
    wanted -= {"SIMPUL_HOME", "SIMPUL_WAREHOUSE_URL", "SIMPUL_OPERATOR"}  # fixed / per command
    declared = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.M))
    assert not sorted(wanted - declared), sorted(wanted - declared)
    # ... with a comment: the line(s) above each setting explain it
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^([A-Z][A-Z0-9_]*)=", line)
        if m:
            j = i - 1
            while j >= 0 and re.match(r"^[A-Z][A-Z0-9_]*=", lines[j]):
                j -= 1  # a group of settings under one comment
            assert j >= 0 and lines[j].startswith("#"), f"{m.group(1)} has no comment"


def test_the_warehouse_and_home_are_fixed_by_compose(production):
    env = production["services"]["airflow-worker"]["environment"]
    assert env["SIMPUL_HOME"] == "/opt/simpul/var"
    assert env["SIMPUL_WAREHOUSE_URL"].startswith("postgresql+psycopg://simpul:")
    vols = production["services"]["airflow-worker"]["volumes"]
    assert "simpul-data:/opt/simpul/var" in vols


# --------------------------------------------------------------------------- secrets


def test_env_example_alone_does_not_start_the_stack():
    """Every required secret is empty in .env.example and stops rendering with a message."""
    with pytest.raises(Missing) as exc:
        render(ENV_EXAMPLE)
    assert exc.value.var in required_vars()
    for var in required_vars():
        assert ENV_EXAMPLE.get(var, "") == "", f"{var} has a value in .env.example"
        env = filled(ENV_EXAMPLE)
        env[var] = ""
        with pytest.raises(Missing) as exc:
            render(env)
        assert exc.value.var == var and "set" in str(exc.value)


def test_no_secret_has_a_default():
    for m in re.finditer(r"\$\{([A-Z_][A-Z0-9_]*)(:?-)([^}]*)\}", COMPOSE_TEXT):
        if SECRET.search(m.group(1)):
            assert m.group(3) == "", f"{m.group(0)}: a secret with a default"
    for name, value in ENV_EXAMPLE.items():
        if SECRET.search(name):
            assert value == "", f".env.example: {name} has a value"
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        assert not (line.startswith(("ENV", "ARG")) and SECRET.search(line)), line
    must = {
        "POSTGRES_PASSWORD",
        "SIMPUL_WAREHOUSE_PASSWORD",
        "REDIS_PASSWORD",
        "AIRFLOW_FERNET_KEY",
        "AIRFLOW_JWT_SECRET",
        "AIRFLOW_API_SECRET_KEY",
        "AIRFLOW_ADMIN_PASSWORD",
        "FLOWER_BASIC_AUTH",
    }
    assert must <= required_vars()


def test_first_start_generates_the_pseudonym_key_when_none_is_configured(production):
    """SIMPUL_PSEUDONYM_KEY may stay empty: airflow-init then runs `simpul keys init`, which
    writes a random key (0600) into the data volume once and keeps it on every later run."""
    assert "SIMPUL_PSEUDONYM_KEY" not in required_vars()
    init = production["services"]["airflow-init"]
    script = init["command"][-1]
    guard = script.index('if [ -z "${SIMPUL_PSEUDONYM_KEY}" ]; then')
    assert guard < script.index("simpul keys init") < script.index("fi", guard)
    assert script.index("simpul keys init") < script.index("airflow db migrate")
    for name in DAG_SERVICES:
        env = production["services"][name]["environment"]
        assert env["SIMPUL_HOME"] == "/opt/simpul/var"
        assert "simpul-data:/opt/simpul/var" in production["services"][name]["volumes"]


def test_redis_has_a_password_and_the_broker_uses_it(production):
    redis = production["services"]["redis"]
    password = filled(ENV_EXAMPLE)["REDIS_PASSWORD"]
    assert redis["command"][-2:] == ["--requirepass", password]
    assert redis["environment"]["REDISCLI_AUTH"] == password  # the health check's ping
    for name in DAG_SERVICES:
        url = production["services"][name]["environment"]["AIRFLOW__CELERY__BROKER_URL"]
        assert url == f"redis://:{password}@redis:6379/0"
    assert "ports" not in redis


def test_only_authenticated_services_publish_ports(production, demo):
    for model in (production, demo):
        published = {n for n, s in model["services"].items() if s.get("ports")}
        assert published == {"airflow-apiserver", "flower"}
    auth = production["services"]["airflow-apiserver"]["environment"]["AIRFLOW__CORE__AUTH_MANAGER"]
    assert auth == "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
    flower = production["services"]["flower"]
    assert flower["environment"]["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"]
    assert all(p.startswith("127.0.0.1:") for p in flower["ports"])
    assert flower["healthcheck"]["test"][-1].endswith("/healthcheck")


def test_flower_health_check_needs_no_login_but_flower_does():
    """The health check URL is Flower's one unauthenticated page (checked in Flower's code)."""
    import inspect

    from flower import urls
    from flower.views import monitor

    assert '(r"/healthcheck", monitor.Healthcheck)' in inspect.getsource(urls)
    assert "authenticated" not in inspect.getsource(monitor.Healthcheck)
    from flower.views import workers

    assert "@web.authenticated" in inspect.getsource(workers)  # the pages do need the login


def test_fab_auth_manager_is_installed_and_the_init_job_creates_the_admin(production):
    lock = (ROOT / "uv.lock").read_text()
    assert 'name = "apache-airflow-providers-fab"' in lock
    import importlib

    mod = importlib.import_module("airflow.providers.fab.auth_manager.fab_auth_manager")
    assert hasattr(mod, "FabAuthManager")
    init = production["services"]["airflow-init"]
    script = init["command"][-1]
    assert "airflow db migrate" in script and "airflow users create" in script
    assert init["environment"]["AIRFLOW_ADMIN_PASSWORD"]


def test_time_zone_is_jakarta_everywhere(production):
    from zoneinfo import ZoneInfo

    for name in DAG_SERVICES:
        env = production["services"][name]["environment"]
        assert env["TZ"] == env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Jakarta"
    assert ZoneInfo("Asia/Jakarta")
    assert "TZ=Asia/Jakarta" in (ROOT / "Dockerfile").read_text()


def test_the_pool_the_init_job_creates_is_the_pool_the_dags_use(production):
    """No pool by default on PostgreSQL; a named pool is created by init with that name."""
    env = production["services"]["airflow-worker"]["environment"]
    assert env["SIMPUL_WAREHOUSE_POOL"] == ""
    script = production["services"]["airflow-init"]["command"][-1]
    m = re.search(
        r'if \[ -n "\$\{SIMPUL_WAREHOUSE_POOL\}" \]; then\s+airflow pools set '
        r'"\$\{SIMPUL_WAREHOUSE_POOL\}" "\$\{SIMPUL_WAREHOUSE_POOL_SLOTS\}"',
        script,
    )
    assert m, script
    assert script.count("airflow pools set") == 1
    named = render({**filled(ENV_EXAMPLE), "SIMPUL_WAREHOUSE_POOL": "simpul_warehouse"})
    assert named["services"]["airflow-worker"]["environment"]["SIMPUL_WAREHOUSE_POOL"] == (
        "simpul_warehouse"
    )


# --------------------------------------------------------------------------- the demo profile


def test_demo_hub_talks_to_the_simulators_by_service_name(demo, production):
    from simpul.simulators.runner import DEMO_CREDENTIALS, PORT_OFFSETS

    sims = demo["services"]["simulators"]
    assert sims["profiles"] == ["demo"]
    cmd = sims["command"]
    assert cmd[:2] == ["simulate", "up"] and sims["entrypoint"] == "simpul"
    base = int(cmd[cmd.index("--base-port") + 1])
    sim_env = sims["environment"]

    def cred(name: str) -> str:
        return sim_env.get(name) or DEMO_CREDENTIALS[name]

    hub = demo["services"]["airflow-worker"]["environment"]
    assert hub["SIMPUL_SIAK_URL"] == f"http://simulators:{base + PORT_OFFSETS['siak']}"
    assert hub["SIMPUL_OSS_URL"] == f"http://simulators:{base + PORT_OFFSETS['oss']}"
    assert hub["SIMPUL_CKAN_URL"] == f"http://simulators:{base + PORT_OFFSETS['ckan']}"
    assert hub["SIMPUL_SIAK_CLIENT_ID"] == cred("SIMPUL_SIM_SIAK_CLIENT_ID")
    assert hub["SIMPUL_SIAK_CLIENT_SECRET"] == cred("SIMPUL_SIM_SIAK_CLIENT_SECRET")
    assert hub["SIMPUL_OSS_CLIENT_ID"] == cred("SIMPUL_SIM_OSS_CLIENT_ID")
    assert hub["SIMPUL_OSS_CLIENT_SECRET"] == cred("SIMPUL_SIM_OSS_CLIENT_SECRET")
    assert hub["SIMPUL_CKAN_TOKEN"] == cred("SIMPUL_SIM_CKAN_TOKEN")
    assert "--disdukcapil-receiver" in cmd
    assert hub["SIMPUL_EXCHANGE_DISDUKCAPIL_URL"] == (
        f"http://simulators:{base + PORT_OFFSETS['disdukcapil']}/deliveries"
    )
    assert hub["SIMPUL_EXCHANGE_DISDUKCAPIL_TOKEN"] == cred("SIMPUL_SIM_DISDUKCAPIL_TOKEN")
    # the drops the simulators write land where the hub's defaults read them
    assert sims["environment"]["SIMPUL_HOME"] == hub["SIMPUL_HOME"]
    assert "simpul-data:/opt/simpul/var" in sims["volumes"]
    # production never points at the simulators
    prod = production["services"]["airflow-worker"]["environment"]
    assert not any("simulators" in v for v in prod.values())


def test_demo_simulators_are_on_an_internal_network_only(demo):
    sims = demo["services"]["simulators"]
    assert sims["networks"] == ["simpul-demo"]
    assert demo["networks"]["simpul-demo"]["internal"] is True
    assert "ports" not in sims
    # inside their container they listen on all interfaces, so the workers reach them
    assert sims["command"][sims["command"].index("--host") + 1] == "0.0.0.0"
    assert "simpul-demo" in demo["services"]["airflow-worker"]["networks"]
    assert "default" in demo["services"]["airflow-worker"]["networks"]


# --------------------------------------------------------------------------- the image


def dockerfile_copies() -> list[tuple[str, str]]:
    """(source, destination) of each ``COPY`` (destination relative to WORKDIR)."""
    out = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            parts = line.split()[1:]
            *sources, dest = parts
            for src in sources:
                out.append((src, src if dest in ("./", ".") else dest))
    return out


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/opt/simpul as the Dockerfile builds it: only what the COPY lines bring."""
    root = tmp_path_factory.mktemp("image") / "opt" / "simpul"
    root.mkdir(parents=True)
    for src, dest in dockerfile_copies():
        s, d = ROOT / src, root / dest
        d.parent.mkdir(parents=True, exist_ok=True)
        if s.is_dir():
            shutil.copytree(s, d, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(s, d)
    return root


def test_the_image_registers_every_dag(image_tree: Path, tmp_path: Path, production):
    """Parse the DAG folder of the image copy in a fresh interpreter whose ``simpul`` is the
    image copy and whose ``SIMPUL_*`` environment is the worker's, rendered from .env.example
    (empty values included): a file the DAGs need but the Dockerfile forgets shows up as a
    missing DAG, a variable the code mishandles when empty as an error."""
    from simpul.config import load_config
    from simpul.exchange.agreements import load_agreements

    expected = {f"simpul_{p}" for p in load_config().pipelines}
    expected |= {"simpul_ops_marts", "simpul_ops_padan", "simpul_ops_freshness"}
    expected |= {"simpul_exchange_outbox"}
    expected |= {f"simpul_exchange_{a}" for a in load_agreements().agreements}
    code = (
        "import json, sys\n"
        "import simpul\n"
        "assert simpul.__file__.startswith(sys.argv[1]), simpul.__file__\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "bag = DagBag(dag_folder=sys.argv[1] + '/dags')\n"
        "from simpul.config import load_config\n"
        "from simpul.mapping import load_mapping\n"
        "import importlib\n"
        "cfg = load_config()\n"
        "for p in cfg.pipelines.values():\n"
        "    load_mapping(p.mapping)\n"
        "    importlib.import_module('expectations.' + p.suite)\n"
        "from simpul.domain.regions import REFERENCE_DIR\n"
        "assert REFERENCE_DIR.is_dir() and str(REFERENCE_DIR).startswith(sys.argv[1])\n"
        "from simpul.cli import main\n"
        "assert main(['exchange', 'plan']) == 0\n"
        "print(json.dumps({'dags': sorted(bag.dags), 'errors': {k: str(v)[:300] for k, v in "
        "bag.import_errors.items()}}))\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SIMPUL_CONFIG", "SIMPUL_EXCHANGE_AGREEMENTS"))
    }
    worker = production["services"]["airflow-worker"]["environment"]
    env.update({k: v for k, v in worker.items() if k.startswith("SIMPUL_") or k == "TZ"})
    env.update(PYTHONPATH=str(image_tree), SIMPUL_HOME=str(tmp_path))
    env.pop("SIMPUL_WAREHOUSE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code, str(image_tree)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    import json

    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert "simpul_config_error" not in result["dags"]
    assert expected <= set(result["dags"]), sorted(expected - set(result["dags"]))


def test_the_dockerfile_copies_what_the_code_opens_beside_the_package():
    """``PROJECT_ROOT / "x"`` paths the code uses are copied (the package's own data files come
    with ``COPY simpul simpul``)."""
    copied = {dest.rstrip("/") for _, dest in dockerfile_copies()}
    opened = set()
    for path in _py_files():
        pattern = r'PROJECT_ROOT\s*/\s*"([^"]+)"(?:\s*/\s*"([^"]+)")?'
        for m in re.finditer(pattern, path.read_text()):
            opened.add("/".join(p for p in m.groups() if p))
    opened.discard("var")  # the data volume
    for item in opened:
        assert any(item == c or item.startswith(c + "/") for c in copied), item


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _runtime_closure() -> set[str]:
    """Packages ``uv sync --frozen --no-dev`` installs: the project's dependencies (and the
    extras they ask for), never its dev group."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    pkgs = {_norm(p["name"]): p for p in lock["package"]}
    seen: set[tuple[str, str | None]] = set()
    todo: list[tuple[str, str | None]] = [("simpul", None)]
    while todo:
        name, extra = todo.pop()
        if (name, extra) in seen:
            continue
        seen.add((name, extra))
        p = pkgs[name]
        deps = p.get("dependencies", []) if extra is None else []
        if extra is not None:
            deps = p.get("optional-dependencies", {}).get(extra, [])
        for d in deps:
            todo.append((_norm(d["name"]), None))
            todo.extend((_norm(d["name"]), e) for e in d.get("extra", []))
    return {name for name, _ in seen}


def test_the_no_dev_install_has_every_module_the_code_imports():
    from importlib.metadata import packages_distributions

    closure = _runtime_closure()
    assert {"apache-airflow-providers-fab", "apache-airflow-providers-celery", "flower"} <= closure
    assert {"defusedxml", "ckanapi", "redis", "psycopg"} <= closure
    dists = packages_distributions()
    local = {"simpul", "connectors", "expectations", "mappings", "dags", "tests", "bench"}
    missing = {}
    for path in _py_files():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                if top in local or top in sys.stdlib_module_names:
                    continue
                provided = {_norm(d) for d in dists.get(top, [])}
                if not provided & closure:
                    missing[top] = str(path.relative_to(ROOT))
    assert not missing, f"imported but not in the --no-dev install: {missing}"


def test_pyproject_runtime_dependencies_include_defusedxml():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith("defusedxml") for d in deps)


def test_the_operator_commands_in_the_production_guide_exist():
    """Every ``simpul-cli <command>`` in docs/production.md parses with the real CLI."""
    from simpul.cli import build_parser

    text = (ROOT / "docs" / "production.md").read_text()
    commands = re.findall(r"simpul-cli ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)", text)
    assert {"status", "exchange plan", "alerts test"} <= set(commands)
    parser = build_parser()
    for cmd in set(commands):
        args = parser.parse_args(cmd.split())
        assert callable(args.func), cmd
    assert "production.md" in (ROOT / "docs" / "operations.md").read_text()


def test_the_init_job_upgrades_the_warehouse_and_tasks_do_not(production):
    """The schema changes once per deployment (`simpul db upgrade` in airflow-init); every
    task only checks that it is at head (SIMPUL_AUTO_MIGRATE off), so no two workers race."""
    script = production["services"]["airflow-init"]["command"][-1]
    assert "simpul db upgrade" in script
    assert script.index("airflow db migrate") < script.index("simpul db upgrade")
    for name in DAG_SERVICES:
        assert production["services"][name]["environment"]["SIMPUL_AUTO_MIGRATE"] == "0"
