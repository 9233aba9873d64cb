"""Every interactive element's ``action_id``, in one place (listeners match on these)."""

RIGHTSIZE_APPROVE = "rightsize_approve"
RIGHTSIZE_APPROVE_TONIGHT = "rightsize_approve_tonight"
RIGHTSIZE_DENY = "rightsize_deny"
RIGHTSIZE_SNOOZE = "rightsize_snooze"
RIGHTSIZE_DISMISS = "rightsize_dismiss"
RIGHTSIZE_REVERT = "rightsize_revert"
RIGHTSIZE_ASK = "rightsize_ask"  # a member asks the approvers (decides nothing)

RIGHTSIZE_PREFIX = "rightsize_"
RIGHTSIZE_DISMISS_MODAL = "rightsize_dismiss_modal"

SPOT_PLAN = "spot_plan"
SCHEDULE_KEEP_RUNNING = "schedule_keep_running"
SCHEDULE_CREATE_MODAL = "schedule_create_modal"
ALERT_SNOOZE = "alert_snooze"
ALERT_DRIVERS = "alert_drivers"
ALERT_PROPOSE_SAVINGS = "alert_propose_savings"
ALERT_PREFIX = "alert_"
