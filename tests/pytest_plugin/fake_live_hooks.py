"""The tail of every fake-live plugin the pytest-plugin tests write: it puts the plugin's
`FakeSession` (defined above it in the same source) in place of the live session for one run."""

INSTALL_FAKE_SESSION = '''

real_live_session = harness.pytest_plugin.session.live_session


def pytest_configure(config):
    harness.pytest_plugin.session.live_session = lambda config: FakeSession()


def pytest_unconfigure(config):
    # An in-process run shares the module with the process running it: put the real one back.
    harness.pytest_plugin.session.live_session = real_live_session
'''
