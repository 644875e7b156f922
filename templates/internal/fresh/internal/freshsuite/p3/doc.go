// Package p3 is one package of the FreshDSN suite (see freshsuite).
package p3
