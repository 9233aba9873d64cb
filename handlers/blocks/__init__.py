"""Pure Block Kit builders: engine results in, Slack message dicts out."""
