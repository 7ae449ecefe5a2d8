module example.invalid/xproc/examples/master-worker/go

go 1.21

require example.invalid/xproc/bindings/go v0.0.0

replace example.invalid/xproc/bindings/go => ../../../bindings/go
