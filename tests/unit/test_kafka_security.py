"""TLS and SASL for every Kafka client, from the environment: what each variable becomes in kafka-python,
and the combinations that must stop a process rather than let it connect in clear."""
from __future__ import annotations

import os

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from rewards_shared import kafka
from rewards_shared.kafka import KafkaSecurityError, security_settings


@pytest.fixture
def files(tmp_path):
    def write(name: str, text: str = "x") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)
    return write


def test_nothing_set_means_plaintext_and_no_options_at_all():
    assert security_settings({}) == {}
    assert security_settings({"KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "KAFKA_BOOTSTRAP_SERVERS": "x:9092"}) == {}


def test_empty_values_count_as_unset():
    assert security_settings({"KAFKA_SECURITY_PROTOCOL": "", "KAFKA_SASL_USERNAME": ""}) == {}


def test_scram_over_tls_as_the_strimzi_overlay_configures_it(files):
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
           "KAFKA_SASL_USERNAME": "rewards-points", "KAFKA_SASL_PASSWORD_FILE": files("password", "s3cret"),
           "KAFKA_SSL_CAFILE": files("ca.crt")}
    assert security_settings(env) == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "rewards-points", "sasl_plain_password": "s3cret",
        "ssl_cafile": env["KAFKA_SSL_CAFILE"]}


def test_a_password_file_loses_its_trailing_newline_but_nothing_else(files):
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "u",
           "KAFKA_SASL_PASSWORD_FILE": files("password", " pass word \n")}
    assert security_settings(env)["sasl_plain_password"] == " pass word "


def test_sasl_defaults_to_scram_sha_512_and_reads_a_password_from_the_environment():
    env = {"KAFKA_SECURITY_PROTOCOL": "sasl_plaintext", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}
    assert security_settings(env) == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512",
                                      "sasl_plain_username": "u", "sasl_plain_password": "p"}


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "PLAIN", "scram-sha-512"])
def test_each_supported_mechanism(mechanism):
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": mechanism,
           "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}
    assert security_settings(env)["sasl_mechanism"] == mechanism.upper()


def test_mutual_tls_with_a_client_certificate(files):
    env = {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": files("ca.crt"),
           "KAFKA_SSL_CERTFILE": files("user.crt"), "KAFKA_SSL_KEYFILE": files("user.key"),
           "KAFKA_SSL_CHECK_HOSTNAME": "false"}
    assert security_settings(env) == {"security_protocol": "SSL", "ssl_cafile": env["KAFKA_SSL_CAFILE"],
                                      "ssl_certfile": env["KAFKA_SSL_CERTFILE"],
                                      "ssl_keyfile": env["KAFKA_SSL_KEYFILE"], "ssl_check_hostname": False}


def test_tls_with_the_system_trust_store_needs_no_files():
    assert security_settings({"KAFKA_SECURITY_PROTOCOL": "SSL"}) == {"security_protocol": "SSL"}


@pytest.mark.parametrize(("env", "complaint"), [
    ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL=TLS"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_MECHANISM": "GSSAPI",
      "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SASL_MECHANISM=GSSAPI"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": "p"}, "needs KAFKA_SASL_USERNAME"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u"}, "needs KAFKA_SASL_PASSWORD"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p",
      "KAFKA_SASL_PASSWORD_FILE": "/etc/passwd"}, "keep one"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u",
      "KAFKA_SASL_PASSWORD_FILE": "/nonexistent/password"}, "KAFKA_SASL_PASSWORD_FILE=/nonexistent/password"),
    ({"KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p"}, "KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SASL_USERNAME": "u"}, "KAFKA_SECURITY_PROTOCOL is SSL"),
    ({"KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p",
      "KAFKA_SSL_CAFILE": "/etc/passwd"}, "KAFKA_SSL_CAFILE set, but KAFKA_SECURITY_PROTOCOL is SASL_PLAINTEXT"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nonexistent/ca.crt"}, "no such file"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_KEYFILE": "/etc/passwd"}, "without KAFKA_SSL_CERTFILE"),
    ({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CHECK_HOSTNAME": "no"}, "KAFKA_SSL_CHECK_HOSTNAME=no"),
])
def test_settings_that_would_be_ignored_or_cannot_work_stop_the_client(env, complaint):
    with pytest.raises(KafkaSecurityError, match=complaint.replace("(", r"\(")):
        security_settings(env)


def test_every_option_is_one_kafka_python_knows_for_each_kind_of_client(files):
    env = {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_USERNAME": "u", "KAFKA_SASL_PASSWORD": "p",
           "KAFKA_SSL_CAFILE": files("ca"), "KAFKA_SSL_CERTFILE": files("crt"), "KAFKA_SSL_KEYFILE": files("key"),
           "KAFKA_SSL_CHECK_HOSTNAME": "0"}
    options = set(security_settings(env))
    for client in (KafkaProducer, KafkaConsumer, KafkaAdminClient):
        assert options <= set(client.DEFAULT_CONFIG), f"{client.__name__}: {options - set(client.DEFAULT_CONFIG)}"


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def __call__(self, name: str):
        def build(*args, **kwargs):
            self.calls.append((name, kwargs))
            return self
        return build

    def close(self):
        pass

    def list_topics(self):
        return []


@pytest.fixture
def built(monkeypatch):
    recorder = Recorder()
    for name in ("KafkaProducer", "KafkaConsumer", "KafkaAdminClient"):
        monkeypatch.setattr(kafka, name, recorder(name))
    for name in list(os.environ):
        if name.startswith("KAFKA_"):
            monkeypatch.delenv(name)
    return recorder


def test_without_the_variables_clients_are_built_exactly_as_before(built):
    kafka.producer("127.0.0.1:9092", "p")
    kafka.consumer("127.0.0.1:9092", "points", "c")
    kafka.ensure_topics("127.0.0.1:9092", ())
    assert built.calls == [
        ("KafkaProducer", {"bootstrap_servers": "127.0.0.1:9092", "client_id": "p", **kafka.PRODUCER_SETTINGS}),
        ("KafkaConsumer", {"bootstrap_servers": "127.0.0.1:9092", "group_id": "points", "client_id": "c",
                           **kafka.CONSUMER_SETTINGS}),
        ("KafkaAdminClient", {"bootstrap_servers": "127.0.0.1:9092", "client_id": "rewards-admin"}),
    ]


def test_producers_consumers_and_admin_clients_all_get_the_security_settings(built, monkeypatch, files):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "rewards-redemption")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", files("password", "p\n"))
    monkeypatch.setenv("KAFKA_SSL_CAFILE", files("ca.crt"))
    kafka.producer("kafka:9093", "redemption-worker-relay")
    kafka.consumer("kafka:9093", "redemption", "redemption-worker")
    kafka.consumer("kafka:9093", None, "rewards-cli")
    kafka.wait_for_topics("kafka:9093", [], timeout=0)
    expected = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                "sasl_plain_username": "rewards-redemption", "sasl_plain_password": "p",
                "ssl_cafile": files("ca.crt")}
    assert [name for name, _ in built.calls] == ["KafkaProducer", "KafkaConsumer", "KafkaConsumer",
                                                 "KafkaAdminClient"]
    for _, options in built.calls:
        assert expected.items() <= options.items()
    assert built.calls[2][1]["group_id"] is None


def test_a_caller_can_still_override_any_option(built, monkeypatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    kafka.producer("kafka:9093", "p", security_protocol="PLAINTEXT", linger_ms=0)
    options = built.calls[0][1]
    assert options["security_protocol"] == "PLAINTEXT" and options["linger_ms"] == 0
