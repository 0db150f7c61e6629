"""mlplab.sklearn: scikit-learn's estimator checks, pipelines, model selection, input derivatives."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from mlplab.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@parametrize_with_checks([MLPRegressor(), MLPClassifier()])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
