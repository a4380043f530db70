"""Both study commands take the same --scale words."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from jasper_tc.cli import app


@pytest.mark.parametrize("command", ["quickstart", "reproduce"])
@pytest.mark.parametrize("scale", ["default", "huge"])
def test_a_scale_other_than_full_or_smoke_is_refused(command, scale, tmp_path):
    result = CliRunner().invoke(app, [command, "--scale", scale, "--output", str(tmp_path)])
    assert result.exit_code == 2 and "--scale must be 'full' or 'smoke'" in result.output
    assert not any(tmp_path.iterdir())  # refused before anything ran
