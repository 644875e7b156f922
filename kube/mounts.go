package kube

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/composegen/composegen/runtime/engine"
)

// maxHostFiles is what a bind mount may hold: a ConfigMap's (or
// Secret's) limit.
const maxHostFiles = 1 << 20

// mountVolumes maps mounts, tmpfs and shm_size onto the pod's volumes and
// the container's mounts. Named and anonymous volumes are emptyDirs, tmpfs
// are memory-backed emptyDirs, and bind mounts of host files or small
// directories are ConfigMaps (Secrets under /run/secrets), mounted
// read-only.
func mountVolumes(pod string, spec *engine.ContainerSpec, pp *podPlan, c *corev1.Container) []refusal {
	ps := &pp.pod.Spec
	var out []refusal
	add := func(v corev1.Volume, m corev1.VolumeMount) {
		m.Name = v.Name
		ps.Volumes = append(ps.Volumes, v)
		c.VolumeMounts = append(c.VolumeMounts, m)
	}
	for i, m := range spec.Mounts {
		name := "m" + strconv.Itoa(i)
		switch m.Type {
		case "volume":
			if m.Source != "" {
				pp.claims = append(pp.claims, m.Source)
			}
			add(emptyDir(name, "", 0), corev1.VolumeMount{MountPath: m.Target, ReadOnly: m.ReadOnly})
		case "tmpfs":
			add(emptyDir(name, corev1.StorageMediumMemory, 0), corev1.VolumeMount{MountPath: m.Target})
		case "bind":
			v, vm, err := pp.bindMount(pod, name, m)
			if err != nil {
				out = append(out, refusal{"volumes", err.Error()})
				continue
			}
			add(v, vm)
		default:
			out = append(out, refusal{"volumes", fmt.Sprintf("mount type %q is not supported", m.Type)})
		}
	}
	paths := make([]string, 0, len(spec.Tmpfs))
	for p := range spec.Tmpfs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for i, p := range paths {
		add(emptyDir("tmpfs"+strconv.Itoa(i), corev1.StorageMediumMemory, tmpfsSize(spec.Tmpfs[p])), corev1.VolumeMount{MountPath: p})
	}
	if spec.ShmSize > 0 {
		add(emptyDir("shm", corev1.StorageMediumMemory, spec.ShmSize), corev1.VolumeMount{MountPath: "/dev/shm"})
	}
	return out
}

func emptyDir(name string, medium corev1.StorageMedium, size int64) corev1.Volume {
	ed := &corev1.EmptyDirVolumeSource{Medium: medium}
	if size > 0 {
		ed.SizeLimit = resource.NewQuantity(size, resource.BinarySI)
	}
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: ed}}
}

// tmpfsSize reads size= of tmpfs options ("size=64m,mode=1777").
func tmpfsSize(opts string) int64 {
	for _, o := range strings.Split(opts, ",") {
		if v, ok := strings.CutPrefix(o, "size="); ok {
			return parseBytes(v)
		}
	}
	return 0
}

// parseBytes parses Docker's sizes: a number with an optional b, k, m or
// g suffix (powers of 1024); 0 when it is not one.
func parseBytes(s string) int64 {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for suffix, m := range map[string]int64{"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "b": 1} {
		if v, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = v, m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n * mult
}

// hostFile is one file of a bind mount.
type hostFile struct {
	rel  string // path below the mount ("" for a file mount)
	mode int32
	data []byte
}

// bindMount turns a bind mount into a ConfigMap or Secret of the host
// files, created with the pod.
func (pp *podPlan) bindMount(pod, name string, m engine.Mount) (corev1.Volume, corev1.VolumeMount, error) {
	files, isDir, err := readHost(m)
	if err != nil {
		return corev1.Volume{}, corev1.VolumeMount{}, err
	}
	obj := metav1.ObjectMeta{Name: pod + "-" + name, Labels: map[string]string{labelManagedBy: managedBy, labelKind: kindMount, labelPod: pod}}
	data := map[string][]byte{}
	var items []corev1.KeyToPath
	for i, f := range files {
		key := "f" + strconv.Itoa(i)
		data[key] = f.data
		path := f.rel
		if !isDir {
			path = key
		}
		items = append(items, corev1.KeyToPath{Key: key, Path: path, Mode: new(f.mode)})
	}
	vm := corev1.VolumeMount{MountPath: m.Target, ReadOnly: true}
	if !isDir {
		vm.SubPath = "f0"
	}
	v := corev1.Volume{Name: name}
	if strings.HasPrefix(m.Target, "/run/secrets/") {
		pp.secrets = append(pp.secrets, &corev1.Secret{ObjectMeta: obj, Data: data})
		v.Secret = &corev1.SecretVolumeSource{SecretName: obj.Name, Items: items}
	} else {
		pp.configMaps = append(pp.configMaps, &corev1.ConfigMap{ObjectMeta: obj, BinaryData: data})
		v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: obj.Name}, Items: items}
	}
	return v, vm, nil
}

// readHost reads the files of a bind mount's source: a regular file, or a
// directory of regular files (symbolic links followed), at most
// maxHostFiles in all.
func readHost(m engine.Mount) (files []hostFile, isDir bool, err error) {
	fi, err := os.Stat(m.Source)
	if err != nil {
		return nil, false, fmt.Errorf("bind mount %s: %w", m.Source, err)
	}
	switch {
	case fi.Mode().IsRegular():
		f, err := readHostFile(m.Source, "", fi)
		return []hostFile{f}, false, err
	case !fi.IsDir():
		return nil, false, fmt.Errorf("bind mount %s: a %s of the test machine cannot reach a pod", m.Source, fileKind(fi))
	}
	files, err = readHostDir(m.Source)
	if err == nil && len(files) == 0 && !m.ReadOnly {
		err = fmt.Errorf("bind mount %s → %s: an empty writable host directory (for the container's output) cannot be shared with a pod; use a named volume", m.Source, m.Target)
	}
	return files, true, err
}

func readHostDir(root string) ([]hostFile, error) {
	var files []hostFile
	total := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s: a %s of the test machine cannot reach a pod", p, fileKind(fi))
		}
		rel, _ := filepath.Rel(root, p)
		if total += int(fi.Size()) + len(rel); total > maxHostFiles {
			return fmt.Errorf("more than 1 MiB of files (what a ConfigMap holds); a large host directory cannot be mounted into a pod: put it in the image or copy it in")
		}
		f, err := readHostFile(p, filepath.ToSlash(rel), fi)
		files = append(files, f)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bind mount %s: %w", root, err)
	}
	return files, nil
}

func readHostFile(p, rel string, fi os.FileInfo) (hostFile, error) {
	if fi.Size() > maxHostFiles {
		return hostFile{}, fmt.Errorf("bind mount %s: %d bytes, more than the 1 MiB a ConfigMap holds; put the file in the image or copy it in", p, fi.Size())
	}
	b, err := os.ReadFile(p)
	return hostFile{rel: rel, mode: int32(fi.Mode().Perm()), data: b}, err
}

func fileKind(fi os.FileInfo) string {
	switch m := fi.Mode(); {
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	}
	return "special file"
}

// claimVolume makes a named volume the container's: on Kubernetes it is an
// emptyDir of the one pod that mounts it, so a second container cannot
// share it.
func (e *Engine) claimVolume(ctx context.Context, ns, vol string, spec *engine.ContainerSpec) error {
	cms := e.cs.CoreV1().ConfigMaps(ns)
	for {
		cm, err := cms.Get(ctx, markerName(kindVolume, vol), metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("service %q: volumes: volume %s was not created for this stack (external volumes are not supported on Kubernetes)", serviceName(spec), vol)
		}
		if err != nil {
			return fmt.Errorf("service %q: volume %s: %w", serviceName(spec), vol, err)
		}
		switch owner := cm.Annotations[annotationClaim]; owner {
		case spec.Name:
			return nil
		case "":
		default:
			return fmt.Errorf("service %q: volumes: volume %s is already mounted by container %s; on Kubernetes a named volume is an emptyDir of one pod, so two containers cannot share it (the cluster would need a ReadWriteMany storage class)", serviceName(spec), vol, owner)
		}
		if cm.Annotations == nil {
			cm.Annotations = map[string]string{}
		}
		cm.Annotations[annotationClaim] = spec.Name
		if _, err = cms.Update(ctx, cm, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
			return err
		}
	}
}
