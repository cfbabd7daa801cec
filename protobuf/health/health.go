// Package health forwards to github.com/h2rpc/h2rpc/health, the standard
// gRPC health service (grpc.health.v1.Health), which lives in the core
// module because it needs no protobuf runtime. New code imports that
// package; this one keeps the programs written against it building.
package health

import "github.com/h2rpc/h2rpc/health"

// ServiceName is the full name of the health service.
const ServiceName = health.ServiceName

// Status is a serving status: HealthCheckResponse.ServingStatus.
type Status = health.Status

// The serving statuses of grpc.health.v1.
const (
	Unknown        = health.Unknown
	Serving        = health.Serving
	NotServing     = health.NotServing
	ServiceUnknown = health.ServiceUnknown
)

// Server is the health service's status registry: see health.Server.
type Server = health.Server

// NewServer returns a registry with the server ("") SERVING.
func NewServer() *Server { return health.NewServer() }

// Register registers h as grpc.health.v1.Health with s.
var Register = health.Register
