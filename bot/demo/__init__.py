"""The embedded demo world: a local Slack stand-in with a browser workspace, and AWS in-process."""
