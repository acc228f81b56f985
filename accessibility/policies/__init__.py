"""Policy checks built on the access engine: one module per policy claim.

Each module turns a planning claim (school layout tiers, the reading circle, clinics,
bus stops) into tables and maps computed with :mod:`accessibility.pipeline` and
:mod:`accessibility.engine`; the thresholds and rules live as data in
``accessibility/rules/``.
"""
