package model

import (
	"slices"
	"strings"
	"testing"
)

func TestKafkaAdvertisedListeners(t *testing.T) {
	p := mustBuild(t, `services:
  kafka:
    image: apache/kafka:3.8.0
    environment:
      KAFKA_LISTENERS: PLAINTEXT://0.0.0.0:29092,PLAINTEXT_HOST://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093
      KAFKA_ADVERTISED_LISTENERS: PLAINTEXT://kafka:29092,PLAINTEXT_HOST://localhost:9092
    ports: ["9092:9092"]
  redpanda:
    image: docker.redpanda.com/redpandadata/redpanda:v24.1.1
    command: [redpanda, start, --kafka-addr, "internal://0.0.0.0:9092,external://0.0.0.0:19092", --advertise-kafka-addr, "internal://redpanda:9092,external://127.0.0.1:19092"]
    ports: ["19092:19092"]
`)
	_, k := svc(t, p, "kafka")
	var adv []string
	for _, port := range k.Ports {
		if port.Target == 9092 {
			adv = port.Advertised
		}
	}
	if !slices.Equal(adv, []string{"KAFKA_ADVERTISED_LISTENERS"}) {
		t.Errorf("kafka port 9092 Advertised = %v, want [KAFKA_ADVERTISED_LISTENERS]", adv)
	}
	_, r := svc(t, p, "redpanda")
	adv = nil
	for _, port := range r.Ports {
		if port.Target == 19092 {
			adv = port.Advertised
		}
	}
	if !slices.Equal(adv, []string{"command"}) {
		t.Errorf("redpanda port 19092 Advertised = %v, want [command]", adv)
	}
	for _, w := range p.Diagnostics {
		if strings.Contains(w.Message, "Brokers()") {
			t.Errorf("unexpected warning: %v", w)
		}
	}
}

func TestKafkaUnreachableFromHostIsWarned(t *testing.T) {
	for name, compose := range map[string]string{
		"internal only": `services:
  kafka:
    image: bitnami/kafka:3.7
    environment:
      KAFKA_CFG_ADVERTISED_LISTENERS: PLAINTEXT://kafka:9092
    ports: ["9092"]
`,
		"not published": `services:
  kafka:
    image: confluentinc/cp-kafka:7.6.0
    environment:
      KAFKA_ADVERTISED_LISTENERS: PLAINTEXT_HOST://localhost:29092
`,
	} {
		t.Run(name, func(t *testing.T) {
			p := mustBuild(t, compose)
			var msgs []string
			for _, w := range p.Diagnostics {
				msgs = append(msgs, w.String())
			}
			all := strings.Join(msgs, "\n")
			if !strings.Contains(all, `service "kafka"`) || !strings.Contains(all, "Brokers()") {
				t.Errorf("no warning that Brokers() cannot work from the host; warnings:\n%s", all)
			}
		})
	}
}
