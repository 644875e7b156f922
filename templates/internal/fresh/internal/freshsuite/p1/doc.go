// Package p1 is one package of the FreshDSN suite (see freshsuite).
package p1
