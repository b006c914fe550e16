"""The refusal fitting script: its logistic regression recovers known coefficients, and it skips
without the real-news data."""

import numpy as np

from benchmarks.fit_refusal import fit, main


def test_fit_recovers_the_coefficients_of_a_known_logistic_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 2)) * [1.0, 3.0] + [0.5, -1.0]
    y = (rng.random(4000) < 1 / (1 + np.exp(-(0.3 + 2.0 * x[:, 0] - 0.5 * x[:, 1])))).astype(float)
    intercept, coef = fit(x, y, np.ones(len(y)), l2=0.0)
    # classes are weighted to equal total weight, which moves only the intercept
    assert np.allclose(coef, [2.0, -0.5], atol=0.15)
    assert np.isfinite(intercept)


def test_without_the_real_news_data_it_says_so_and_skips(tmp_path, capsys):
    assert main(["--news", str(tmp_path / "absent"), "--cache", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().out.strip() == f"skipped: no real-news dev data at {tmp_path / 'absent'}"
