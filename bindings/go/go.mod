module netring

go 1.19
