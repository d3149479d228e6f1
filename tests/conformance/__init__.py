"""The conformance suite: Atlassian's recorded answers, checked against the emulator and the package.

``data/*.json`` holds what Atlassian really answers (field names, types, statuses, error bodies,
headers), each item with the public source it was taken from. ``test_emulator`` proves that the
emulator answers those shapes; ``test_provider`` proves that the package reads every recorded
variant. When Atlassian is seen to answer differently, the data changes first, and both sides
must follow.
"""
