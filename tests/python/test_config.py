"""The districts file: a threshold that is not a share between 0 and 1 (or not a number of days) is refused,
naming the district and the key, before anything runs."""

from __future__ import annotations

import pytest

from sis_sync.config import ConfigError, load_districts


def districts_file(tmp_path, thresholds: str):
    path = tmp_path / "districts.yml"
    path.write_text(f"districts:\n  - id: north\n    delivery: {{method: folder, path: drop}}\n"
                    f"    thresholds: {thresholds}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("thresholds", "message"), [
    ("{share: 10}", r"thresholds\.share must be a share between 0 and 1 \(0\.10 for 10%\), got 10"),
    ("{share: -0.1}", r"thresholds\.share must be a share between 0 and 1"),
    ("{rollover_share: 1.5}", r"thresholds\.rollover_share must be a share between 0 and 1"),
    ("{share: '10%'}", r"thresholds\.share must be a share between 0 and 1 .*got '10%'"),
    ("{share: true}", r"thresholds\.share must be a share"),
    ("{change_share: 75}", r"thresholds\.change_share must be a share between 0 and 1"),
    ("{cumulative_nights: -7}", r"thresholds\.cumulative_nights must be a whole number"),
    ("{rollover_days: 2.5}", r"thresholds\.rollover_days must be a whole number"),
    ("{shares: 0.1}", r"thresholds: unknown key\(s\) shares; expected share, change_share, "),
    ("0.1", r"thresholds must be a mapping"),
])
def test_a_threshold_outside_its_range_is_refused(tmp_path, thresholds, message):
    with pytest.raises(ConfigError, match=r"district north: " + message):
        load_districts(districts_file(tmp_path, thresholds), None)


def test_thresholds_within_range_are_kept(tmp_path):
    [district] = load_districts(districts_file(tmp_path, "{share: 0.2, rollover_share: 1, rollover_days: 7}"), None)
    assert district.thresholds == {"share": 0.2, "rollover_share": 1, "rollover_days": 7}
    [default] = load_districts(districts_file(tmp_path, "null"), None)
    assert default.thresholds == {}
