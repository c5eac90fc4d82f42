"""What real SMPD looks like, measured once on the official training labels.

The synthetic generator matches these numbers and the tests check that it does. Only
summary numbers live here, never the research-only data they were measured on.
"""

from __future__ import annotations

import numpy as np

# Percentiles 0, 1, ..., 100 of the 305,613 SMPD training labels.
LABEL_PERCENTILES = np.array([
    1.0, 1.0, 1.58, 2.0, 2.32, 2.58, 2.81, 3.0, 3.17, 3.17, 3.32, 3.46, 3.58, 3.7, 3.81, 3.91,
    4.0, 4.09, 4.17, 4.25, 4.32, 4.46, 4.52, 4.58, 4.64, 4.7, 4.75, 4.86, 4.91, 4.95, 5.04,
    5.09, 5.13, 5.21, 5.29, 5.32, 5.39, 5.46, 5.49, 5.55, 5.61, 5.67, 5.73, 5.78, 5.86, 5.91,
    5.95, 6.02, 6.09, 6.15, 6.23, 6.29, 6.36, 6.41, 6.48, 6.54, 6.61, 6.67, 6.74, 6.81, 6.87,
    6.93, 7.0, 7.07, 7.13, 7.2, 7.28, 7.35, 7.43, 7.51, 7.58, 7.66, 7.74, 7.82, 7.9, 7.98,
    8.06, 8.14, 8.24, 8.34, 8.43, 8.54, 8.63, 8.73, 8.85, 8.97, 9.1, 9.24, 9.4, 9.56, 9.72,
    9.89, 10.07, 10.26, 10.48, 10.73, 11.02, 11.4, 11.86, 12.79, 16.56,
])
LABEL_MEAN, LABEL_SD = 6.41, 2.47
# Mean label by decile of posting time, earliest first (all training posts).
DRIFT_DECILE_MEANS = (6.78, 6.64, 6.45, 6.44, 6.00, 6.36, 6.27, 6.27, 6.45, 6.41)
# Posts per user (uid sample): mean, share of users with one post, p90, p99.
POSTS_PER_USER_MEAN = 6.41
SINGLE_POST_USER_SHARE = 0.60
POSTS_PER_USER_P90, POSTS_PER_USER_P99 = 9, 113
WITHIN_USER_SD = 0.69  # against LABEL_SD overall
CATEGORY_LEVELS = (11, 77, 668)
