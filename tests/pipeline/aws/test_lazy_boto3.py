"""The local install needs no boto3: importing whispersync, its CLI and the AWS adapters, and building
the runtime `whispersync up` runs, leave boto3 unimported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

CHECK = textwrap.dedent("""
    import sys
    import whispersync, whispersync.app, whispersync.cli, whispersync.pipeline, whispersync.pipeline.aws
    from whispersync.settings import Settings

    runtime = whispersync.app.build_runtime(Settings.load(home=sys.argv[1]))
    runtime.close()
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("boto3", "botocore"))
    assert not loaded, loaded
""")


def test_importing_whispersync_and_building_the_local_runtime_does_not_import_boto3(tmp_path: Path):
    """In a fresh interpreter, so no other test's import of boto3 can hide one of ours."""
    result = subprocess.run([sys.executable, "-c", CHECK, str(tmp_path / "home")], check=False,
                            env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
