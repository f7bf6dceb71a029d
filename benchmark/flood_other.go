//go:build !linux

package benchmark

import "errors"

func setNice(int) error { return errors.New("not supported on this system") }
