echo yip
