"""The default summarizer keeps beating both baselines on real meetings (the ROUGE protocol of
docs/summaries.md, run by bench/rouge_qmsum.py, which exits non-zero when it does not)."""

from __future__ import annotations

import subprocess
import sys

from support import DATA, ROOT

MEETINGS = DATA / "qmsum" / "meetings"


def test_extractive_summarizer_clearly_beats_the_baselines() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "rouge_qmsum.py"), "--data", str(MEETINGS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "clearly beats both baselines on the held-out half: yes" in done.stdout
