"""Demand forecasting for EntanglementAllocation-v0 (DESIGN.md §6).

``data`` (traces to per-node windows, seasonal period, splits), ``baselines`` (naive
forecasts and error metrics), ``model`` (the shared recurrent forecaster), ``train``
(fit with early stopping, evaluation, save/load), ``kernels`` and ``wrapper`` (the
forecast in the environment's observations), ``cli`` (``qenv forecast``).
"""
