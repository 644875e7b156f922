package model

import (
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/composegen/composegen/runtime/composeplan"
)

// resources maps the top-level volumes, networks, secrets and configs, each
// in name order.
func (b *builder) resources() {
	pj := b.r.Project
	plan := &b.p.Plan
	for _, n := range sortedKeys(pj.Volumes) {
		v := pj.Volumes[n]
		vs := composeplan.VolumeSpec{Name: n, External: bool(v.External), Driver: b.t(v.Driver), DriverOpts: b.tmap(map[string]string(v.DriverOpts)), Labels: b.tmap(map[string]string(v.Labels))}
		if vs.External {
			vs.ExternalName = b.t(v.Name)
		}
		plan.Volumes = append(plan.Volumes, vs)
	}
	for _, n := range sortedKeys(pj.Networks) {
		plan.Networks = append(plan.Networks, b.network(n, pj.Networks[n]))
	}
	for _, n := range sortedKeys(pj.Secrets) {
		plan.Secrets = append(plan.Secrets, b.fileSpec(n, types.FileObjectConfig(pj.Secrets[n])))
	}
	for _, n := range sortedKeys(pj.Configs) {
		plan.Configs = append(plan.Configs, b.fileSpec(n, types.FileObjectConfig(pj.Configs[n])))
	}
	for _, n := range sortedKeys(pj.Jobs) {
		b.warnTop("jobs."+n, "jobs are not supported by composegen; ignored")
	}
	for _, n := range sortedKeys(pj.Models) {
		b.warnTop("models."+n, "models are not supported by composegen; ignored")
	}
}

func (b *builder) network(n string, v types.NetworkConfig) composeplan.NetworkSpec {
	ns := composeplan.NetworkSpec{Name: n, External: bool(v.External), Internal: v.Internal, Driver: b.t(v.Driver), DriverOpts: b.tmap(map[string]string(v.DriverOpts)), Labels: b.tmap(map[string]string(v.Labels))}
	if len(v.Ipam.Config) > 0 || v.Ipam.Driver != "" || len(v.Ipam.Options) > 0 {
		b.warnTopWith("networks."+n+".ipam", "Every stack instance gets its own network, on a subnet the engine picks: parallel stacks would collide on a fixed one.",
			"fixed subnets are not supported; ignored")
	}
	if v.EnableIPv6 != nil && *v.EnableIPv6 {
		b.warnTop("networks."+n+".enable_ipv6", "not supported by composegen; ignored")
	}
	if ns.External {
		ns.ExternalName = b.t(v.Name)
	}
	return ns
}

func (b *builder) fileSpec(name string, c types.FileObjectConfig) composeplan.FileSpec {
	return composeplan.FileSpec{
		Name: name, File: b.path(c.File), Environment: b.t(c.Environment),
		Content: b.t(c.Content), External: bool(c.External),
	}
}
