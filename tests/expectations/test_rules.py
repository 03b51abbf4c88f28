"""The hub's own expectation kinds exist twice, by design: as plain pandas rules for the
vectorised pass (``expectations.rules``) and as GX classes (``expectations.custom``) for GX
validation and Data Docs. Both must name the same kinds and the same metrics."""

from __future__ import annotations

import inspect

from expectations.rules import ROW_RULES


def test_every_row_rule_is_the_gx_expectation_of_that_name():
    from great_expectations.expectations.expectation import MulticolumnMapExpectation
    from great_expectations.expectations.registry import get_expectation_impl

    import expectations.custom as custom

    classes = {
        cls.expectation_type: cls
        for _, cls in inspect.getmembers(custom, inspect.isclass)
        if cls.__module__ == custom.__name__ and cls.__name__.startswith("Expect")
    }
    assert set(classes) == set(ROW_RULES)
    for kind, row_rule in ROW_RULES.items():
        cls = get_expectation_impl(kind)
        assert cls is classes[kind]
        assert cls.map_metric == row_rule.metric
        assert issubclass(cls, MulticolumnMapExpectation) == (row_rule.shape == "multicolumn")
