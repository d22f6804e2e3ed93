"""An SNS topic with an SQS queue subscribed to it, on a moto_server this helper starts on 127.0.0.1 and stops:
for the tests of alerts (tests_py/ops/test_alerts_sns.py) and of the DAG's on-failure callback (tests_py/dags/)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3

REGION = "ap-northeast-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class SnsQueue:
    endpoint: str
    topic_arn: str
    queue_url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def env(self) -> dict[str, str]:
        """What a child process needs to publish to this topic."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint, "TAGLAKE_ALERT_TOPIC_ARN": self.topic_arn}

    def subscribe_queue(self, name: str, filter_policy: dict[str, Any]) -> str:
        """Another queue on the topic, with a subscription filter policy on message attributes; its URL."""
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.client("sns").subscribe(
            TopicArn=self.topic_arn,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"FilterPolicy": json.dumps(filter_policy), "RawMessageDelivery": "false"},
        )
        return str(url)

    def received(self, queue_url: str | None = None) -> list[dict[str, Any]]:
        """Every SNS notification in the queue (the envelope: Subject, Message, MessageAttributes)."""
        sqs = self.client("sqs")
        found = []
        while True:
            batch = sqs.receive_message(QueueUrl=queue_url or self.queue_url, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not batch:
                return found
            for message in batch:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=queue_url or self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@contextmanager
def sns_queue() -> Iterator[SnsQueue]:
    """moto_server on 127.0.0.1 (a free port), a topic `taglake-alerts`, a queue subscribed to it."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        made = SnsQueue(endpoint, "", "")
        arn = made.client("sns").create_topic(Name="taglake-alerts")["TopicArn"]
        sqs = made.client("sqs")
        url = sqs.create_queue(QueueName="taglake-alerts-all")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        made.client("sns").subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queue_arn)
        yield SnsQueue(endpoint, arn, url)
    finally:
        server.stop()
