package kube

import (
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/composegen/composegen/runtime/engine"
)

// exitCannotStart is the exit code of a container that Kubernetes could
// not start (its image cannot be pulled, its command does not exist): the
// code the kubelet gives a container whose process could not start.
const exitCannotStart = 128

// lastState is what a stopped container's pod recorded when it was
// stopped; the pod that stands for it until the next Start carries it.
type lastState struct {
	ExitCode     int       `json:"exitCode"`
	StartedAt    time.Time `json:"startedAt"`
	FinishedAt   time.Time `json:"finishedAt"`
	OOMKilled    bool      `json:"oomKilled,omitempty"`
	RestartCount int       `json:"restartCount,omitempty"`
	Error        string    `json:"error,omitempty"`
}

func (l lastState) state() engine.State {
	return engine.State{
		Status: "exited", ExitCode: l.ExitCode, StartedAt: l.StartedAt, FinishedAt: l.FinishedAt,
		OOMKilled: l.OOMKilled, RestartCount: l.RestartCount, Error: l.Error,
	}
}

// gated reports whether the pod is held back by the start gate (a created
// or stopped container).
func gated(p *corev1.Pod) bool {
	for _, g := range p.Spec.SchedulingGates {
		if g.Name == startGate {
			return true
		}
	}
	return false
}

// finished reports whether the pod's containers will not run again.
func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

func containerStatus(p *corev1.Pod) *corev1.ContainerStatus {
	if len(p.Status.ContainerStatuses) == 0 {
		return nil
	}
	return &p.Status.ContainerStatuses[0]
}

// stateOf maps a pod onto the state of its container.
func stateOf(p *corev1.Pod) engine.State {
	if gated(p) {
		if s, ok := p.Annotations[annotationLast]; ok {
			var l lastState
			_ = json.Unmarshal([]byte(s), &l)
			return l.state()
		}
		return engine.State{Status: "created"}
	}
	cs := containerStatus(p)
	if cs == nil {
		return pendingState(p)
	}
	st := engine.State{RestartCount: int(cs.RestartCount)}
	if t := cs.LastTerminationState.Terminated; t != nil {
		terminated(&st, t)
	}
	switch s := cs.State; {
	case s.Running != nil:
		st.Status, st.Running, st.StartedAt = "running", true, s.Running.StartedAt.Time
		st.FinishedAt = time.Time{}
	case s.Terminated != nil:
		terminated(&st, s.Terminated)
		st.Status = "exited"
		if !finished(p) && willRestart(p, s.Terminated.ExitCode) {
			st.Status, st.Restarting = "restarting", true
		}
	case s.Waiting != nil:
		waiting(&st, p, s.Waiting)
	}
	return st
}

func terminated(st *engine.State, t *corev1.ContainerStateTerminated) {
	st.ExitCode = int(t.ExitCode)
	st.StartedAt, st.FinishedAt = t.StartedAt.Time, t.FinishedAt.Time
	st.OOMKilled = t.Reason == "OOMKilled"
	st.Error = ""
	if t.Reason == "StartError" || t.Reason == "ContainerCannotRun" {
		st.Error = "the container could not start: " + t.Message
	}
}

func willRestart(p *corev1.Pod, code int32) bool {
	switch p.Spec.RestartPolicy {
	case corev1.RestartPolicyAlways:
		return true
	case corev1.RestartPolicyOnFailure:
		return code != 0
	}
	return false
}

// imageReasons are the kubelet's reasons for an image it cannot get.
var imageReasons = map[string]bool{
	"ErrImagePull": true, "ImagePullBackOff": true, "ErrImageNeverPull": true,
	"InvalidImageName": true, "ImageInspectError": true, "RegistryUnavailable": true,
}

// failReasons are the kubelet's reasons for a container it cannot create
// or start.
var failReasons = map[string]bool{
	"CreateContainerConfigError": true, "CreateContainerError": true, "RunContainerError": true,
	"PreCreateHookError": true, "PostStartHookError": true,
}

// waiting maps a waiting container: starting (created), crash-looping
// (restarting) or failed (dead, with the reason).
func waiting(st *engine.State, p *corev1.Pod, w *corev1.ContainerStateWaiting) {
	switch {
	case w.Reason == "CrashLoopBackOff":
		st.Status, st.Restarting = "restarting", true
	case imageReasons[w.Reason]:
		st.Status, st.ExitCode = "dead", exitCannotStart
		st.Error = fmt.Sprintf("image %s cannot be pulled (%s): %s", p.Spec.Containers[0].Image, w.Reason, w.Message)
	case failReasons[w.Reason]:
		st.Status, st.ExitCode = "dead", exitCannotStart
		st.Error = fmt.Sprintf("the container cannot start (%s): %s", w.Reason, w.Message)
	case st.RestartCount > 0:
		st.Status, st.Restarting = "restarting", true
	default:
		st.Status = "created" // ContainerCreating: being started
	}
}

// pendingState maps a pod without container status: scheduled but not
// yet started, unschedulable, or failed as a whole (evicted).
func pendingState(p *corev1.Pod) engine.State {
	if finished(p) {
		return engine.State{Status: "dead", ExitCode: exitCannotStart, Error: fmt.Sprintf("the pod failed (%s): %s", p.Status.Reason, p.Status.Message)}
	}
	st := engine.State{Status: "created"}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason != "SchedulingGated" {
			st.Error = fmt.Sprintf("the pod cannot be scheduled (%s): %s", c.Reason, c.Message)
		}
	}
	return st
}
