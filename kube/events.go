package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// podWarnings returns the pod's last warning events ("FailedMount: ...",
// "FailedScheduling: ..."), which say why a pod does not start, "" when
// there are none.
func (e *Engine) podWarnings(ctx context.Context, p *corev1.Pod) string {
	sel := fields.Set{"involvedObject.name": p.Name, "involvedObject.uid": string(p.UID), "type": corev1.EventTypeWarning}.String()
	list, err := e.cs.CoreV1().Events(p.Namespace).List(ctx, metav1.ListOptions{FieldSelector: sel})
	if err != nil || len(list.Items) == 0 {
		return ""
	}
	evs := list.Items
	sort.Slice(evs, func(i, j int) bool { return lastSeen(evs[i]).Before(lastSeen(evs[j])) })
	var out []string
	for _, ev := range evs[max(0, len(evs)-3):] {
		out = append(out, fmt.Sprintf("%s: %s", ev.Reason, strings.TrimSpace(ev.Message)))
	}
	return "events: " + strings.Join(out, "; ")
}

func lastSeen(ev corev1.Event) time.Time {
	switch {
	case !ev.EventTime.IsZero():
		return ev.EventTime.Time
	case !ev.LastTimestamp.IsZero():
		return ev.LastTimestamp.Time
	}
	return ev.CreationTimestamp.Time
}

// withWarnings adds the pod's warning events to the error of a state in
// which the pod does not run as it should.
func (e *Engine) withWarnings(ctx context.Context, p *corev1.Pod, msg string) string {
	w := e.podWarnings(ctx, p)
	switch {
	case w == "":
		return msg
	case msg == "":
		return w
	}
	return msg + "; " + w
}
