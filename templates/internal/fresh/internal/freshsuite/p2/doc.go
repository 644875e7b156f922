// Package p2 is one package of the FreshDSN suite (see freshsuite).
package p2
