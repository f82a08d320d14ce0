"""`--model auto` keeps the purchase model with the higher log-likelihood, summed over the segments.

Hand-made fits: the log-likelihoods are chosen so that each rule can be told apart from the ones it
could be confused with (the better model in one segment vs in total; a BIC over different numbers of
customers; the sign of the log-likelihood).
"""

from __future__ import annotations

from simulator.model.estimation import ModelFit
from simulator.fit.fitting import choose_model


def fit(model: str, loglik: float, n: int = 100) -> ModelFit:
    names = {"bgnbd": ("purchase.r", "purchase.alpha", "dropout.a", "dropout.b"),
             "pareto_nbd": ("purchase.r", "purchase.alpha", "dropout.s", "dropout.beta")}[model]
    eye = tuple(tuple(0.01 if i == j else 0.0 for j in range(4)) for i in range(4))
    return ModelFit(model, names, (1.0, 2.0, 3.0, 4.0), (0.1,) * 4, eye, loglik, n, True, 5, "")


def test_the_higher_log_likelihood_wins_cdnow_figures() -> None:
    # the published CDNOW calibration fits: BG/NBD −9582.4 is higher (less negative) than Pareto/NBD −9595.0
    choice = choose_model({"bgnbd": [fit("bgnbd", -9582.4, 2357)], "pareto_nbd": [fit("pareto_nbd", -9595.0, 2357)]},
                          False, "calibration period")
    assert choice.model == "bgnbd"
    assert choice.loglik == (("bgnbd", -9582.4), ("pareto_nbd", -9595.0))
    assert choice.sentence() == ("BG/NBD: the higher log-likelihood on the calibration period "
                                 "(BG/NBD -9,582.4, Pareto/NBD -9,595.0)")
    # and the other way round, whichever model is listed first
    choice = choose_model({"bgnbd": [fit("bgnbd", -9595.0)], "pareto_nbd": [fit("pareto_nbd", -9582.4)]},
                          False, "whole history")
    assert choice.model == "pareto_nbd"
    assert choice.sentence().startswith("Pareto/NBD: the higher log-likelihood on the whole history (Pareto/NBD")


def test_the_sum_over_segments_decides_not_the_first_segment() -> None:
    # Pareto/NBD is better in the first segment (−90 > −100) but worse in total (−410 < −400)
    fits = {"bgnbd": [fit("bgnbd", -100.0), fit("bgnbd", -300.0)],
            "pareto_nbd": [fit("pareto_nbd", -90.0), fit("pareto_nbd", -320.0)]}
    choice = choose_model(fits, False, "whole history")
    assert choice.model == "bgnbd" and dict(choice.loglik) == {"bgnbd": -400.0, "pareto_nbd": -410.0}


def test_the_likelihood_decides_not_a_bic_over_different_customer_counts() -> None:
    # same data, so the same n in practice; were n to differ, −2·LL + 4·ln n would prefer Pareto/NBD here
    # (2·10 + 4·ln 10 = 29.2 < 2·9 + 4·ln 1000 = 45.6), while its log-likelihood is lower
    choice = choose_model({"bgnbd": [fit("bgnbd", -9.0, 1000)], "pareto_nbd": [fit("pareto_nbd", -10.0, 10)]},
                          False, "whole history")
    assert choice.model == "bgnbd"


def test_one_model_asked_for_or_left() -> None:
    asked = choose_model({"pareto_nbd": [fit("pareto_nbd", -1234.56)]}, True, "calibration period")
    assert asked.model == "pareto_nbd"
    assert asked.sentence() == "Pareto/NBD, as asked (--model pareto_nbd); log-likelihood on the calibration period -1,234.6"
    left = choose_model({"bgnbd": [fit("bgnbd", -50.0)]}, False, "whole history")
    assert left.sentence() == "BG/NBD, the only model that could be fitted; log-likelihood on the whole history -50.0"


def test_a_tie_keeps_the_first_model() -> None:
    choice = choose_model({"bgnbd": [fit("bgnbd", -7.0)], "pareto_nbd": [fit("pareto_nbd", -7.0)]}, False, "whole history")
    assert choice.model == "bgnbd"
