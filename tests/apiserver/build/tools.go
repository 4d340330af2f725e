//go:build tools

// Package build pins, in go.sum, the commands tests/apiserver/install.sh builds from this module.
package build

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
