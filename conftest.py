"""Project-level pytest configuration.

The harness plugin itself is registered through the ``pytest11`` entry point of the installed
package; nothing here is needed to use it. Tests that drive an inner pytest (``pytester``) need
the pytester plugin.
"""

pytest_plugins = ["pytester"]
