"""The official SDKs against the project's emulator, over real HTTP on 127.0.0.1.

Each test module imports its SDK with `support.sdk.sdk` (which skips, or fails under CI=true,
when it is missing), so the suite is skipped with the reason where an SDK is not installed;
scripts/test.sh installs them all from tests/conformance/requirements.txt. The emulator's
fixtures come from the root conftest's plugin; the helpers live in tests/support/sdk.py.
"""
