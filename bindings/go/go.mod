module example.invalid/xproc/bindings/go

go 1.21
