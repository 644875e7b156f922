// Package p4 is one package of the FreshDSN suite (see freshsuite).
package p4
