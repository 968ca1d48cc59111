"""The default summarizer keeps beating both baselines on real meetings (the ROUGE protocol of
docs/summaries.md, run by bench/rouge_qmsum.py, which exits non-zero when it does not)."""

from __future__ import annotations

import sys

import pytest

from support import DATA, ONCE, ROOT, run_process

pytestmark = [pytest.mark.e2e, ONCE]

MEETINGS = DATA / "qmsum" / "meetings"


def test_extractive_summarizer_clearly_beats_the_baselines() -> None:
    done = run_process(
        [sys.executable, str(ROOT / "bench" / "rouge_qmsum.py"), "--data", str(MEETINGS)],
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "clearly beats both baselines on the held-out half: yes" in done.stdout
