"""ldap3, imported once with pyasn1's deprecation warnings silenced.

ldap3 2.9.1 imports names that pyasn1 >= 0.6 deprecates (``tagMap``,
``typeMap``); the warning fires at import time and says nothing about our
code, but breaks runs that turn warnings into errors. Every AD module imports
ldap3 from here.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3
    from ldap3.core import exceptions as ldap_exc
    from ldap3.utils.conv import escape_bytes, escape_filter_chars

__all__ = ["escape_bytes", "escape_filter_chars", "ldap3", "ldap_exc"]
