"""What the validation seeds of ``ffstream bench streams`` said about the front ends' settings.

Mean prequential accuracy over validation seeds 0-2 (``--split validation``), per stream: the
record behind each default of :class:`~ffstream.stream.StreamLearner` and
:class:`~ffstream.river.FFClassifier` that the streams suite chose. Scans run as scripts, not
as suite runs, have no JSON of their own; this is their record.
"""

__all__ = ["VALIDATION_SCANS"]

#: ``StreamLearner`` settings scored on the validation seeds: the mean prequential accuracy of
#: ``ff-stream`` over 20,000 frames, one setting changed from the defaults of commit 90337ab
#: (as ``--split validation --methods ff-stream --ff-long-term-share V`` runs it; the scan ran
#: the same learner and streams from a script, one thread). ``long_term_share`` 0.25 became
#: the default: each drift stream gained on every seed, the other streams moved by -0.3 to
#: +0.2. Each seed-0 setting lost on mixed-scale, where ``ff-stream`` trails most, and was
#: left (8 hidden units per input feature instead of 4 gained on nonlinear only).
#: ``ema_decay`` 0.999 alone (``--ff-ema-decay``, records ``custom-*``) gained on the
#: stationary streams and lost 6 points on recurring drift; with the fallback to the weights
#: that learn (``ema_fallback_window`` 500, scanned with a script on the learner of commit
#: e6b151a) no stream lost, so both became the defaults (the rule, set before the scan ended:
#: adopt unless a stream loses more than 0.5 pp).
VALIDATION_SCANS: dict[str, dict[str, dict[str, float]]] = {
    "seeds 0-2, ema_decay 0.999 and ema_fallback_window 500 (chosen)": {
        "abrupt": 0.8982,
        "class-incremental": 0.865,
        "gradual": 0.8753,
        "high-dim": 0.8689,
        "label-noise": 0.7324,
        "linear": 0.9486,
        "low-dim": 0.9854,
        "mixed-scale": 0.8395,
        "nonlinear": 0.8645,
        "outlier-bursts": 0.8955,
        "recurring": 0.8619,
    },
    "seeds 0-2, ema_decay 0.999 alone": {
        "label-noise": 0.7323,
        "mixed-scale": 0.8397,
        "nonlinear": 0.8641,
        "recurring": 0.8012,
    },
    "seeds 0-2, long_term_share 0.5 (the old default)": {
        "abrupt": 0.8739,
        "class-incremental": 0.8627,
        "gradual": 0.8522,
        "high-dim": 0.8365,
        "label-noise": 0.6933,
        "linear": 0.9468,
        "low-dim": 0.984,
        "mixed-scale": 0.8354,
        "nonlinear": 0.8624,
        "outlier-bursts": 0.8884,
        "recurring": 0.8499,
    },
    "seeds 0-2, long_term_share 0.25 (chosen; the defaults before the average)": {
        "abrupt": 0.8942,
        "class-incremental": 0.865,
        "gradual": 0.8705,
        "high-dim": 0.8346,
        "label-noise": 0.6921,
        "linear": 0.9463,
        "low-dim": 0.9841,
        "mixed-scale": 0.8324,
        "nonlinear": 0.8614,
        "outlier-bursts": 0.8865,
        "recurring": 0.8608,
    },
    "seed 0, the old defaults": {
        "abrupt": 0.8748,
        "class-incremental": 0.8687,
        "mixed-scale": 0.8359,
        "nonlinear": 0.8343,
    },
    "seed 0, long_term_share 0": {
        "abrupt": 0.9112,
        "class-incremental": 0.8699,
        "mixed-scale": 0.8264,
        "nonlinear": 0.8313,
    },
    "seed 0, readout_lr 0.01": {"mixed-scale": 0.8223, "nonlinear": 0.8267},
    "seed 0, lr 3e-3": {"mixed-scale": 0.8297, "nonlinear": 0.8164},
    "seed 0, hidden 8 units per feature": {"mixed-scale": 0.8244, "nonlinear": 0.8399},
    "seed 0, weight_decay 1e-4": {"mixed-scale": 0.8299, "nonlinear": 0.8328},
    # FFClassifier's weight average (``ff-river``), scanned with a script that runs the suite's
    # ``run_method`` on FFClassifier as committed in 8345b0c, with these settings (0.995 without
    # a fallback gives the former default's numbers bit for bit). "Readout averaged too" was an
    # uncommitted prototype. Rule: adopt the fallback unless a stream loses more than 0.5 pp
    # against the former default. 0.999 with window 500 gained on all 11; 0.9995 a little more,
    # but 0.999 keeps both front ends alike.
    "FFClassifier, seeds 0-2, ema_decay 0.995 without a fallback (the former default)": {
        "abrupt": 0.8922,
        "class-incremental": 0.86,
        "gradual": 0.8636,
        "high-dim": 0.8476,
        "label-noise": 0.6769,
        "linear": 0.925,
        "low-dim": 0.987,
        "mixed-scale": 0.8285,
        "nonlinear": 0.8706,
        "outlier-bursts": 0.8444,
        "recurring": 0.8536,
    },
    "FFClassifier, seeds 0-2, ema_decay 0.999 and ema_fallback_window 500 (chosen)": {
        "abrupt": 0.9028,
        "class-incremental": 0.8637,
        "gradual": 0.877,
        "high-dim": 0.8572,
        "label-noise": 0.6947,
        "linear": 0.9386,
        "low-dim": 0.9877,
        "mixed-scale": 0.8366,
        "nonlinear": 0.8729,
        "outlier-bursts": 0.8575,
        "recurring": 0.8572,
    },
    "FFClassifier, seeds 0-2, ema_decay 0.998 and ema_fallback_window 500": {
        "abrupt": 0.8995,
        "class-incremental": 0.8631,
        "gradual": 0.8727,
        "high-dim": 0.853,
        "label-noise": 0.6883,
        "linear": 0.9336,
        "low-dim": 0.9875,
        "mixed-scale": 0.834,
        "nonlinear": 0.8725,
        "outlier-bursts": 0.8533,
        "recurring": 0.8566,
    },
    "FFClassifier, seeds 0-2, ema_decay 0.9995 and ema_fallback_window 500": {
        "abrupt": 0.9034,
        "class-incremental": 0.864,
        "gradual": 0.8779,
        "high-dim": 0.8589,
        "label-noise": 0.6978,
        "linear": 0.9408,
        "low-dim": 0.9876,
        "mixed-scale": 0.8369,
        "nonlinear": 0.8731,
        "outlier-bursts": 0.8586,
        "recurring": 0.8564,
    },
    "FFClassifier, seeds 0-2, ema_decay 0.999 and ema_fallback_window 200": {
        "abrupt": 0.9031,
        "class-incremental": 0.8637,
        "gradual": 0.8763,
        "high-dim": 0.8571,
        "label-noise": 0.6947,
        "linear": 0.9386,
        "low-dim": 0.9875,
        "mixed-scale": 0.8366,
        "nonlinear": 0.8726,
        "outlier-bursts": 0.8573,
        "recurring": 0.8591,
    },
    "FFClassifier, seeds 0-2, ema_decay 0.995 and ema_fallback_window 500": {
        "abrupt": 0.8913,
        "class-incremental": 0.8598,
        "gradual": 0.8632,
        "high-dim": 0.8471,
        "label-noise": 0.677,
        "linear": 0.9248,
        "low-dim": 0.987,
        "mixed-scale": 0.8285,
        "nonlinear": 0.8706,
        "outlier-bursts": 0.8443,
        "recurring": 0.8528,
    },
    "FFClassifier, seeds 0-2, ema_decay 0.998 and ema_fallback_window 500, readout averaged too": {
        "abrupt": 0.8963,
        "class-incremental": 0.8584,
        "gradual": 0.8708,
        "high-dim": 0.8516,
        "label-noise": 0.6862,
        "linear": 0.9334,
        "low-dim": 0.9875,
        "mixed-scale": 0.8327,
        "nonlinear": 0.8715,
        "outlier-bursts": 0.845,
        "recurring": 0.8472,
    },
    "FFClassifier, seeds 0-2, the chosen average with lr 0.5 (not kept: nonlinear -2.7)": {
        "abrupt": 0.9142,
        "class-incremental": 0.8632,
        "gradual": 0.886,
        "high-dim": 0.8572,
        "label-noise": 0.6998,
        "linear": 0.9483,
        "low-dim": 0.9859,
        "mixed-scale": 0.8221,
        "nonlinear": 0.8462,
        "outlier-bursts": 0.873,
        "recurring": 0.872,
    },
}
