"""AWS errors as people read them: the code and what is missing, never who or which account."""

from __future__ import annotations

import logging

from botocore.exceptions import ClientError

from engines.aws_errors import explain

ROLE = "arn:aws:sts::123456789012:assumed-role/costbot/i-0abc"
EC2_REFUSAL = (
    f"You are not authorized to perform this operation. User: {ROLE} is not authorized to "
    "perform: ec2:StopInstances on resource: arn:aws:ec2:us-east-1:123456789012:instance/i-0abc "
    "because no identity-based policy allows the ec2:StopInstances action. Encoded "
    "authorization failure message: 8sQ3c-very-long-opaque-blob"
)
CE_REFUSAL = (
    f"User: {ROLE} is not authorized to perform: ce:GetCostAndUsage on resource: "
    "arn:aws:ce:us-east-1:123456789012:/GetCostAndUsage"
)


def client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "StopInstances")


def test_a_refusal_names_the_missing_permission_and_nothing_else(caplog):
    caplog.set_level(logging.WARNING)

    shown = explain(client_error("UnauthorizedOperation", EC2_REFUSAL))

    assert shown == "UnauthorizedOperation: costbot's AWS role lacks ec2:StopInstances"
    assert explain(client_error("AccessDeniedException", CE_REFUSAL)) == (
        "AccessDeniedException: costbot's AWS role lacks ce:GetCostAndUsage"
    )
    assert ROLE in caplog.text and "123456789012" in caplog.text  # the log keeps it all


def test_arns_and_account_ids_are_left_out_of_any_other_message():
    message = (
        "The instance ID 'i-0abc' in account 123456789012 (arn:aws:ec2:us-east-1:123456789012:"
        "instance/i-0abc) does not exist"
    )

    shown = explain(client_error("InvalidInstanceID.NotFound", message))

    assert "123456789012" not in shown and "arn:" not in shown
    assert shown.startswith("InvalidInstanceID.NotFound: The instance ID 'i-0abc'")


def test_a_plain_message_reads_as_aws_wrote_it():
    shown = explain(client_error("IncorrectInstanceState", "The instance is not in a state."))

    assert shown == "IncorrectInstanceState: The instance is not in a state."
